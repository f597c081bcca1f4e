import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

export type Node = Record<string, unknown>;
export interface Resource {
  Type: string;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Properties: Node;
}
export interface Parameter {
  Type: string;
  Default?: unknown;
  AllowedPattern?: string;
  AllowedValues?: string[];
  NoEcho?: boolean;
}
export interface Template {
  Parameters: Record<string, Parameter>;
  Conditions?: Node;
  Resources: Record<string, Resource>;
  Outputs: Node;
}
export interface Statement {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Node;
}

// Every short-form intrinsic CloudFormation knows reads as its long form ({"Ref": …}, {"Fn::Sub": …}, …), whatever
// the YAML node under the tag (scalar, sequence or mapping), so that any template in infra/ loads.
const names = [
  'Ref',
  'Condition',
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'ImportValue',
  'Join',
  'Length',
  'Select',
  'Split',
  'Sub',
  'ToJsonString',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
];
const intrinsics: Tags = names.flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const wrap = (value: unknown) => ({
    [key]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value,
  });
  const collection = (kind: 'seq' | 'map') => ({
    tag: `!${name}`,
    collection: kind,
    resolve: (node: { toJSON(): unknown }) => wrap(node.toJSON()),
  });
  return [{ tag: `!${name}`, resolve: (value: string) => wrap(value) }, collection('seq'), collection('map')];
});

export function parseTemplate(text: string): Template {
  return parse(text, { customTags: intrinsics }) as Template;
}

export function loadTemplate(path: string): Template {
  return parseTemplate(readFileSync(path, 'utf8'));
}

export function resourcesOf(template: Template, type: string): Resource[] {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

export function one(template: Template, type: string): Resource {
  const [resource, ...others] = resourcesOf(template, type);
  assert.ok(resource, `no ${type}`);
  assert.equal(others.length, 0, `more than one ${type}`);
  return resource;
}

/** Every statement of a role's inline policies. */
export function statementsOf(role: Resource): Statement[] {
  const policies = (role.Properties['Policies'] as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** The actions a statement names in Action (none when it uses NotAction). */
export function actionsOf(statement: Statement): string[] {
  return [statement.Action ?? []].flat();
}

/** The names a `${…}` in this template's !Sub strings may use, besides a !Sub's own variables. */
export function subNames(template: Template): Set<string> {
  return new Set([...Object.keys(template.Parameters), ...Object.keys(template.Resources)]);
}

/**
 * What is wrong with one !Sub string: a `$` that opens no `${…}` (the 2018 `$SubDomain}` typo, which CloudFormation
 * keeps as literal text), a `${` that never closes, or a `${Name}` that names nothing in the template.
 * `${!Literal}` is CloudFormation's escape for a literal `${`.
 */
export function subProblems(text: string, known: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$') continue;
    if (text[i + 1] !== '{') {
      problems.push(`stray "$" at ${i} in ${JSON.stringify(text)}`);
      continue;
    }
    const end = text.indexOf('}', i + 2);
    const inner = end === -1 ? '' : text.slice(i + 2, end);
    if (end === -1 || inner === '' || /[${\s]/.test(inner)) {
      problems.push(`unbalanced "\${" at ${i} in ${JSON.stringify(text)}`);
      if (end === -1) break;
    } else if (!inner.startsWith('!') && !inner.startsWith('AWS::') && !known.has(inner.split('.')[0] ?? '')) {
      problems.push(`"\${${inner}}" names nothing in the template, in ${JSON.stringify(text)}`);
    }
    i = end;
  }
  return problems;
}

/** Every !Sub string in a template, with the names it may use. */
export function subStrings(template: Template): { text: string; known: Set<string> }[] {
  const found: { text: string; known: Set<string> }[] = [];
  const base = subNames(template);
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (value === null || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? (inner as [unknown, unknown]) : [inner, undefined];
        const own = variables && typeof variables === 'object' ? Object.keys(variables) : [];
        if (typeof text === 'string') found.push({ text, known: new Set([...base, ...own]) });
        walk(variables);
      } else {
        walk(inner);
      }
    }
  };
  walk(template);
  return found;
}

/**
 * The template as CloudFormation deploys it with these parameter values (the others at their defaults): each
 * condition evaluated, each Fn::If replaced by its branch, AWS::NoValue dropped, and the resources whose condition is
 * false gone. A test can then read a conditional container, variable or alarm as a plain value.
 */
export function deployed(template: Template, parameters: Record<string, string> = {}): Template {
  const value = (name: string): unknown => {
    if (name in parameters) return parameters[name];
    const declared = template.Parameters[name];
    assert.ok(declared, `no parameter ${name}`);
    const fallback = declared.Default;
    return typeof fallback === 'string' || typeof fallback === 'number' ? String(fallback) : undefined;
  };
  const conditions = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    const known = conditions.get(name);
    if (known !== undefined) return known;
    const definition = template.Conditions?.[name];
    assert.ok(definition !== undefined, `no condition ${name}`);
    const result = evaluate(definition);
    conditions.set(name, result);
    return result;
  };
  const operand = (node: unknown): unknown => {
    const ref = (node as Node | null)?.['Ref'];
    return typeof ref === 'string' ? value(ref) : node;
  };
  function evaluate(node: unknown): boolean {
    const [[fn, args] = []] = Object.entries(node as Node);
    const list = args as unknown[];
    switch (fn) {
      case 'Fn::Equals':
        return operand(list[0]) === operand(list[1]);
      case 'Fn::Not':
        return !evaluate(list[0]);
      case 'Fn::And':
        return list.every(evaluate);
      case 'Fn::Or':
        return list.some(evaluate);
      case 'Condition':
        return condition(args as string);
      default:
        throw new Error(`cannot evaluate the condition ${JSON.stringify(node)}`);
    }
  }
  const noValue = Symbol('AWS::NoValue');
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve).filter((item) => item !== noValue);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    const [[key, inner] = []] = entries;
    if (entries.length === 1 && key === 'Ref' && inner === 'AWS::NoValue') return noValue;
    if (entries.length === 1 && key === 'Fn::If') {
      const [name, yes, no] = inner as [string, unknown, unknown];
      return resolve(condition(name) ? yes : no);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)] as const).filter(([, v]) => v !== noValue));
  };
  const resources = Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, resource]) => resource.Condition === undefined || condition(resource.Condition))
      .map(([id, resource]) => [id, { ...resource, Properties: resolve(resource.Properties) as Node }]),
  );
  return { ...template, Resources: resources, Outputs: resolve(template.Outputs) as Node };
}

/**
 * What `{"Fn::ImportValue": {"Fn::Sub": "product-service-${EnvironmentName}:Name"}}` imports from `exporter`: the Value
 * of the output exported under that name, or undefined when it exports none (or the node is no such import).
 */
function importedValue(node: unknown, exporter: Template): unknown {
  const name = ((node as Node | null)?.['Fn::ImportValue'] as Node | undefined)?.['Fn::Sub'];
  if (typeof name !== 'string') return undefined;
  const output = Object.values(exporter.Outputs).find(
    (o) =>
      ((o as Node)['Export'] as Node | undefined)?.['Name'] &&
      (((o as Node)['Export'] as Node)['Name'] as Node)['Fn::Sub'] === name,
  ) as Node | undefined;
  return output?.['Value'];
}

/** `${Resource}` or `${Resource.Attribute}` for a !Ref or !GetAtt, as a !Sub string names it. */
function asSubReference(value: unknown): string {
  const node = value as Node | null;
  if (typeof node?.['Ref'] === 'string') return `\${${node['Ref']}}`;
  const getAtt = node?.['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
  throw new Error(`cannot name ${JSON.stringify(value)} in a !Sub`);
}

/**
 * The service stack and a stack that imports from it (the dashboard's) seen as one template: each !Sub variable that
 * imports a service export is written back into its string as the reference the export's value makes, so the checks
 * that read one stack read the pair as they read the single stack before the split. Throws on an import the service
 * stack does not export, so a renamed export cannot pass unseen.
 */
export function joined(service: Template, importer: Template): Template {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const sub = (node as Node)['Fn::Sub'];
    if (Array.isArray(sub) && typeof sub[0] === 'string') {
      let text: string = sub[0];
      const kept: Node = {};
      for (const [name, value] of Object.entries((sub[1] ?? {}) as Node)) {
        const imported = importedValue(value, service);
        if (imported === undefined && (value as Node | null)?.['Fn::ImportValue'] !== undefined) {
          throw new Error(`${name} imports ${JSON.stringify(value)}, which the service stack does not export`);
        }
        if (imported === undefined) kept[name] = rewrite(value);
        else text = text.replaceAll(`\${${name}}`, asSubReference(imported));
      }
      return { 'Fn::Sub': Object.keys(kept).length === 0 ? text : [text, kept] };
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, rewrite(value)]));
  };
  return {
    ...service,
    Parameters: { ...service.Parameters, ...importer.Parameters },
    Conditions: { ...service.Conditions, ...importer.Conditions },
    Resources: { ...service.Resources, ...(rewrite(importer.Resources) as Template['Resources']) },
  };
}
