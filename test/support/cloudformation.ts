import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

export type Node = Record<string, unknown>;
export interface Resource {
  Type: string;
  Condition?: string;
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
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Node;
}

// CloudFormation's short-form intrinsics (!Ref, !Sub, …) read as their long forms ({"Ref": …}, {"Fn::Sub": …}).
const intrinsics: Tags = [
  'Ref',
  'Sub',
  'GetAtt',
  'ImportValue',
  'If',
  'Not',
  'Equals',
  'Select',
  'Join',
  'Split',
].flatMap((name) => {
  const key = name === 'Ref' ? 'Ref' : `Fn::${name}`;
  const wrap = (value: unknown) => ({
    [key]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value,
  });
  return [
    { tag: `!${name}`, resolve: (value: string) => wrap(value) },
    { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => wrap(seq.toJSON()) },
  ];
});

export function loadTemplate(path: string): Template {
  return parse(readFileSync(path, 'utf8'), { customTags: intrinsics }) as Template;
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

export function actionsOf(statement: Statement): string[] {
  return [statement.Action].flat();
}
