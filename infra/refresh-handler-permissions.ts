// Refreshes infra/handler-permissions.json: the handler permissions (create, read, update, delete, list) of every
// resource type that the stacks CloudFormationRole deploys use, and what AWS's Service Authorization Reference says
// of each action named there (the resource types it takes, none meaning '*'). test/execution-role.test.ts holds the
// role to them.
//
//   npm run refresh:handler-permissions -- --schemas <pulumi-aws-native> --cfn-lint <cfn-lint>
//
// Both are git repositories, a checkout or a bare clone: the files are read at HEAD (or --schemas-rev/--cfn-lint-rev)
// with `git show`, so the data names the commit and its date.
// - Schemas: pulumi/pulumi-aws-native's aws-cloudformation-schema/, a copy of AWS's published registry schemas
//   (https://schema.cloudformation.us-east-1.amazonaws.com/CloudformationSchema.zip, with us-west-2's). cfn-lint's
//   own copy cannot serve: it drops `handlers` from every schema (cfn-lint #3661, 2024-09) and, since 2026-06-16
//   (#4539), downloads the schemas at run time instead of keeping them in the repository.
// - Service Authorization Reference: cfn-lint's src/cfnlint/data/AdditionalSpecs/Policies.json.
// The templates are every infra/*.template.yml but the pipeline's, which deploys the others as that role.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { actionsOf, loadTemplate, statementsOf } from '../test/support/cloudformation.js';
import { deployedTemplates, handlerKinds, type HandlerKind } from '../test/support/handler-permissions.js';

const schemaFolder = 'aws-cloudformation-schema';
const policiesFile = 'src/cfnlint/data/AdditionalSpecs/Policies.json';

interface GitSource {
  repository: string;
  commit: string;
  path: string;
  date: string;
}
interface Schema {
  typeName: string;
  handlers?: Partial<Record<HandlerKind, { permissions?: string[] }>>;
}
interface ServiceEntry {
  Actions: Record<string, { Resources?: string[] }>;
  Resources?: Record<string, { ARNFormats?: string[] }>;
}

const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

function source(repo: string, rev: string, repository: string, path: string): GitSource {
  const commit = git(repo, 'rev-parse', `${rev}^{commit}`).trim();
  // The date of the last change to what is read, not of the checkout: that is how old the data is.
  const date = git(repo, 'log', '-1', '--format=%cs', commit, '--', path).trim();
  if (date === '') throw new Error(`${repository} has no ${path} at ${commit}`);
  return { repository, commit, path, date };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      schemas: { type: 'string' },
      'schemas-rev': { type: 'string', default: 'HEAD' },
      'cfn-lint': { type: 'string' },
      'cfn-lint-rev': { type: 'string', default: 'HEAD' },
      out: { type: 'string', default: 'infra/handler-permissions.json' },
    },
  });
  const schemasRepo = values.schemas;
  const cfnLintRepo = values['cfn-lint'];
  if (schemasRepo === undefined || cfnLintRepo === undefined) {
    throw new Error('usage: --schemas <pulumi-aws-native git dir> --cfn-lint <cfn-lint git dir>');
  }
  const schemas = source(schemasRepo, values['schemas-rev'], 'pulumi/pulumi-aws-native', schemaFolder);
  const policies = source(cfnLintRepo, values['cfn-lint-rev'], 'aws-cloudformation/cfn-lint', policiesFile);

  const templates = deployedTemplates();
  const types = [
    ...new Set(templates.flatMap((path) => Object.values(loadTemplate(path).Resources).map((r) => r.Type))),
  ].sort();

  const resourceTypes: Record<string, Record<HandlerKind, string[]>> = {};
  for (const type of types) {
    // The registry names each schema file after its type: AWS::ECS::Service is aws-ecs-service.json.
    const file = `${schemaFolder}/${type.toLowerCase().replaceAll('::', '-')}.json`;
    const schema = JSON.parse(git(schemasRepo, 'show', `${schemas.commit}:${file}`)) as Schema;
    if (schema.typeName !== type) throw new Error(`${file} is ${schema.typeName}, not ${type}`);
    resourceTypes[type] = Object.fromEntries(
      handlerKinds.map((kind) => [kind, [...new Set(schema.handlers?.[kind]?.permissions ?? [])].sort()]),
    ) as Record<HandlerKind, string[]>;
  }

  const serviceMap = JSON.parse(git(cfnLintRepo, 'show', `${policies.commit}:${policiesFile}`)) as Record<
    string,
    ServiceEntry
  >;
  const handlerActions = new Set(Object.values(resourceTypes).flatMap((kinds) => Object.values(kinds).flat()));
  const role = loadTemplate('infra/pipeline.template.yml').Resources['CloudFormationRole'];
  if (!role) throw new Error('infra/pipeline.template.yml has no CloudFormationRole');
  const roleActions = statementsOf(role).flatMap((statement) => [
    ...actionsOf(statement),
    ...[statement.NotAction ?? []].flat(),
  ]);
  const prefixOf = (action: string) => action.split(':')[0] ?? '';
  const rolePrefixes = new Set(roleActions.map(prefixOf));
  const prefixes = [...new Set([...handlerActions].map(prefixOf)), ...rolePrefixes].sort();

  // Every action of each service the role names (so that a test can expand a wildcard and catch a misspelt name),
  // and the handlers' actions of the other services, each with the resource types it takes (none: '*'). Names and
  // types are lower-case, as Policies.json keys them; IAM compares action names without case.
  const actions: Record<string, Record<string, string[]>> = {};
  const arnFormats: Record<string, Record<string, string[]>> = {};
  for (const prefix of new Set(prefixes)) {
    const service = serviceMap[prefix];
    if (!service) throw new Error(`Policies.json has no service ${prefix}`);
    const wanted = (name: string) =>
      rolePrefixes.has(prefix) || [...handlerActions].some((a) => a.toLowerCase() === `${prefix}:${name}`);
    actions[prefix] = Object.fromEntries(
      Object.entries(service.Actions)
        .filter(([name]) => wanted(name))
        .map(([name, entry]) => [name, (entry.Resources ?? []).map((r) => r.toLowerCase()).sort()] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    arnFormats[prefix] = Object.fromEntries(
      Object.entries(service.Resources ?? {})
        .map(([name, entry]) => [name.toLowerCase(), entry.ARNFormats ?? []] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  const data = {
    $comment: 'Generated by infra/refresh-handler-permissions.ts (docs/development.md); do not edit by hand.',
    sources: {
      schemas: {
        ...schemas,
        what: "CloudFormation registry resource provider schemas, AWS's CloudformationSchema.zip of us-east-1 and us-west-2",
      },
      serviceAuthorization: {
        ...policies,
        what: "AWS's Service Authorization Reference (actions, their resource types, ARN formats), as cfn-lint ships it",
      },
    },
    templates,
    resourceTypes,
    actions,
    arnFormats,
  };
  // Written as Prettier writes it, so that `npm test`'s prettier --check passes on a fresh refresh.
  const options = { ...(await resolveConfig(values.out)), filepath: values.out };
  writeFileSync(values.out, await format(JSON.stringify(data), options));
  console.log(`${values.out}: ${types.length} resource types from ${templates.join(', ')}`);
}

await main();
