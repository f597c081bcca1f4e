import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const handlerKinds = ['create', 'read', 'update', 'delete', 'list'] as const;
export type HandlerKind = (typeof handlerKinds)[number];

export interface DataSource {
  repository: string;
  commit: string;
  path: string;
  date: string;
  what: string;
}

/** infra/handler-permissions.json, as infra/refresh-handler-permissions.ts writes it. */
export interface HandlerPermissions {
  sources: { schemas: DataSource; serviceAuthorization: DataSource };
  templates: string[];
  /** Per resource type, the permissions each of its handlers lists in its registry schema. */
  resourceTypes: Record<string, Record<HandlerKind, string[]>>;
  /** Per service prefix, action name (lower-case) -> the resource types it takes (lower-case; none: '*'). */
  actions: Record<string, Record<string, string[]>>;
  /** Per service prefix, resource type (lower-case) -> its ARN formats (regular expressions with ${Partition} …). */
  arnFormats: Record<string, Record<string, string[]>>;
}

export function loadHandlerPermissions(path = 'infra/handler-permissions.json'): HandlerPermissions {
  return JSON.parse(readFileSync(path, 'utf8')) as HandlerPermissions;
}

/** The templates that the pipeline deploys as CloudFormationRole: every infra/*.template.yml but its own. */
export function deployedTemplates(infra = 'infra'): string[] {
  return readdirSync(infra)
    .filter((name) => name.endsWith('.template.yml') && name !== 'pipeline.template.yml')
    .sort()
    .map((name) => join(infra, name));
}

/** What the Service Authorization Reference says of an action: its resource types, or undefined when unknown. */
export function resourceTypesOf(data: HandlerPermissions, action: string): string[] | undefined {
  const [prefix = '', name = ''] = action.toLowerCase().split(':');
  return data.actions[prefix]?.[name];
}
