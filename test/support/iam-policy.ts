// A small evaluator of one identity policy, after the IAM User Guide's "Policy evaluation logic"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny wins,
// then any Allow, else the request is implicitly denied. It evaluates what the role's statements may contain:
// Action/NotAction and Resource/NotResource with the * and ? wildcards (actions without case, resources with), and the
// condition operators below, with IfExists. Simplified, and refused loudly rather than guessed: multi-valued keys
// (ForAnyValue/ForAllValues), policy variables (${aws:username}), any other operator. Out of its view: other policies
// (SCPs, permissions boundaries, session policies) and resource policies, which can only take permissions away here.
import type { Statement } from './cloudformation.js';

export interface Request {
  /** service:Action, as a handler lists it. */
  action: string;
  /** The ARN the request is authorised on, or '*' for an action without resource-level permissions. */
  resource: string;
  /** Condition keys the request carries, e.g. iam:PassedToService for iam:PassRole. */
  context?: Record<string, string>;
}

/** A statement whose intrinsic functions are resolved: plain strings only. */
export interface PlainStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export type Decision =
  { allowed: true; by: string } | { allowed: false; why: 'explicit deny' | 'no allow'; by?: string };

const escape = (text: string) => text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
/** IAM's wildcards: * any run of characters (':' and '/' included), ? exactly one. */
export function wildcard(pattern: string, flags = ''): RegExp {
  return new RegExp(`^${escape(pattern).replaceAll('*', '.*').replaceAll('?', '.')}$`, flags);
}
const actionMatches = (pattern: string, action: string) => wildcard(pattern, 'i').test(action);
const resourceMatches = (pattern: string, resource: string) =>
  pattern === '*' || (resource !== '*' && wildcard(pattern).test(resource));

type Operator = (value: string, wanted: string) => boolean;
const operators: Record<string, { test: Operator; negated: boolean }> = {
  StringEquals: { test: (v, w) => v === w, negated: false },
  StringNotEquals: { test: (v, w) => v === w, negated: true },
  StringEqualsIgnoreCase: { test: (v, w) => v.toLowerCase() === w.toLowerCase(), negated: false },
  StringLike: { test: (v, w) => wildcard(w).test(v), negated: false },
  StringNotLike: { test: (v, w) => wildcard(w).test(v), negated: true },
  // ArnEquals and ArnLike take wildcards alike (the User Guide's "Amazon Resource Name (ARN) condition operators").
  ArnEquals: { test: (v, w) => wildcard(w).test(v), negated: false },
  ArnLike: { test: (v, w) => wildcard(w).test(v), negated: false },
  ArnNotEquals: { test: (v, w) => wildcard(w).test(v), negated: true },
  ArnNotLike: { test: (v, w) => wildcard(w).test(v), negated: true },
  Bool: { test: (v, w) => v.toLowerCase() === w.toLowerCase(), negated: false },
};

/**
 * One condition block: every operator and key must hold. A key the request lacks makes a positive operator false and
 * a negated one true (the User Guide's "Condition operators"); ...IfExists makes a missing key true.
 */
function conditionHolds(condition: PlainStatement['Condition'], context: Record<string, string>): boolean {
  return Object.entries(condition ?? {}).every(([name, keys]) => {
    if (/^For(Any|All)Value:/.test(name)) throw new Error(`multi-valued condition ${name} is not evaluated`);
    const ifExists = name.endsWith('IfExists');
    const operator = operators[ifExists ? name.slice(0, -'IfExists'.length) : name];
    if (!operator) throw new Error(`condition operator ${name} is not evaluated`);
    return Object.entries(keys).every(([key, wanted]) => {
      if (wanted.some((w) => w.includes('${'))) throw new Error(`policy variables in ${key} are not evaluated`);
      const value = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (value === undefined) return ifExists || operator.negated;
      const matched = wanted.some((w) => operator.test(value, w));
      return operator.negated ? !matched : matched;
    });
  });
}

function applies(statement: PlainStatement, request: Request): boolean {
  const actionHit = statement.Action
    ? statement.Action.some((p) => actionMatches(p, request.action))
    : !(statement.NotAction ?? []).some((p) => actionMatches(p, request.action));
  const resourceHit = statement.Resource
    ? statement.Resource.some((p) => resourceMatches(p, request.resource))
    : !(statement.NotResource ?? []).some((p) => resourceMatches(p, request.resource));
  return actionHit && resourceHit && conditionHolds(statement.Condition, request.context ?? {});
}

const label = (statement: PlainStatement, index: number) => statement.Sid ?? `statement ${index}`;

export function evaluate(statements: PlainStatement[], request: Request): Decision {
  const first = (effect: PlainStatement['Effect']) => {
    const index = statements.findIndex((s) => s.Effect === effect && applies(s, request));
    const statement = statements[index];
    return statement ? label(statement, index) : undefined;
  };
  const denied = first('Deny');
  if (denied !== undefined) return { allowed: false, why: 'explicit deny', by: denied };
  const allowed = first('Allow');
  if (allowed !== undefined) return { allowed: true, by: allowed };
  return { allowed: false, why: 'no allow' };
}

/** The pseudo parameters a role's !Sub strings use, with the values a test deploys into. */
export interface Place {
  partition: string;
  region: string;
  account: string;
}

/** A role's statements with !Sub of the pseudo parameters resolved; any other intrinsic is refused. */
export function plainStatements(statements: Statement[], place: Place): PlainStatement[] {
  const pseudo: Record<string, string> = {
    'AWS::Partition': place.partition,
    'AWS::Region': place.region,
    'AWS::AccountId': place.account,
  };
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const sub = (value as Record<string, unknown> | null)?.['Fn::Sub'];
    if (typeof sub === 'string') {
      return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        const resolved = pseudo[name];
        if (resolved === undefined) throw new Error(`cannot resolve \${${name}} in ${sub}`);
        return resolved;
      });
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)}: only strings and !Sub of pseudo parameters`);
  };
  const list = (value: unknown): string[] | undefined =>
    value === undefined ? undefined : [value].flat().map((item) => text(item));
  return statements.map((s) => {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Error(`Effect ${s.Effect}`);
    const plain: PlainStatement = { Effect: s.Effect };
    if (s.Sid !== undefined) plain.Sid = s.Sid;
    for (const key of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
      const values = list(s[key]);
      if (values !== undefined) plain[key] = values;
    }
    if ((plain.Action === undefined) === (plain.NotAction === undefined)) throw new Error('Action xor NotAction');
    if ((plain.Resource === undefined) === (plain.NotResource === undefined))
      throw new Error('Resource xor NotResource');
    if (s.Condition !== undefined) {
      plain.Condition = Object.fromEntries(
        Object.entries(s.Condition).map(([operator, keys]) => [
          operator,
          Object.fromEntries(Object.entries(keys as Record<string, unknown>).map(([k, v]) => [k, list(v) ?? []])),
        ]),
      );
    }
    return plain;
  });
}
