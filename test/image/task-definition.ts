// The service's container as the ECS task definition in infra/service.template.yml declares it, read the way
// CloudFormation would deploy it with one environment's parameter file, so that the image test runs the image as
// ECS does. The container definition's fields are AWS's:
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
import { readFileSync } from 'node:fs';
import { deployed, loadTemplate, one, type Node } from '../support/cloudformation.js';

/** ECS's own stop timeout when a container definition names none (StopTimeout, in the page above). */
export const ecsDefaultStopTimeoutSeconds = 30;

export interface HealthCheck {
  /** As ECS takes it: ["CMD", executable, ...arguments] or ["CMD-SHELL", command]. */
  readonly command: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

export interface ServiceContainer {
  readonly name: string;
  readonly containerPort: number;
  readonly readonlyRootFilesystem: boolean;
  /** The user the container runs as, if the task definition overrides the image's. */
  readonly user: string | undefined;
  readonly stopTimeoutSeconds: number;
  readonly healthCheck: HealthCheck | undefined;
  /** Environment and Secrets, name to the template's value: a string, or an intrinsic left for the caller. */
  readonly variables: ReadonlyMap<string, unknown>;
  /** The template's parameters with this environment's values: what a `Ref` to a parameter reads. */
  readonly parameters: Readonly<Record<string, string>>;
}

/**
 * The container named `name` in the template's task definition, deployed with the parameter file's values. The
 * template is read whole (Fn::If branches taken), so a variable only some environments set is there when this one
 * sets it.
 */
export function serviceContainer(templatePath: string, parameterFile: string, name: string): ServiceContainer {
  const parameters = (JSON.parse(readFileSync(parameterFile, 'utf8')) as { Parameters: Record<string, string> })
    .Parameters;
  const template = deployed(loadTemplate(templatePath), parameters);
  const definitions = one(template, 'AWS::ECS::TaskDefinition').Properties['ContainerDefinitions'] as Node[];
  const container = definitions.find((definition) => definition['Name'] === name);
  if (!container) throw new Error(`${templatePath}: no container ${name} in the task definition`);

  const variables = new Map<string, unknown>();
  for (const entry of (container['Environment'] ?? []) as { Name: string; Value: unknown }[]) {
    variables.set(entry.Name, entry.Value);
  }
  // A secret's value comes from Secrets Manager at task start: its ARN is all the template knows.
  for (const entry of (container['Secrets'] ?? []) as { Name: string; ValueFrom: unknown }[]) {
    variables.set(entry.Name, { Secret: entry.ValueFrom });
  }
  const check = container['HealthCheck'] as Node | undefined;
  // ECS's defaults for the fields a HealthCheck may leave out:
  // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
  const healthCheck = check && {
    command: check['Command'] as string[],
    intervalSeconds: Number(check['Interval'] ?? 30),
    timeoutSeconds: Number(check['Timeout'] ?? 5),
    retries: Number(check['Retries'] ?? 3),
    startPeriodSeconds: Number(check['StartPeriod'] ?? 0),
  };
  const withDefaults = Object.fromEntries(
    Object.entries(template.Parameters).flatMap(([key, parameter]) => {
      const value = parameters[key] ?? parameter.Default;
      return typeof value === 'string' || typeof value === 'number' ? [[key, String(value)]] : [];
    }),
  );
  return {
    name,
    containerPort: Number((container['PortMappings'] as Node[] | undefined)?.[0]?.['ContainerPort']),
    readonlyRootFilesystem: container['ReadonlyRootFilesystem'] === true,
    user: typeof container['User'] === 'string' ? container['User'] : undefined,
    stopTimeoutSeconds:
      container['StopTimeout'] === undefined ? ecsDefaultStopTimeoutSeconds : Number(container['StopTimeout']),
    healthCheck,
    variables,
    parameters: withDefaults,
  };
}

export interface LocalValues {
  /**
   * A local value for each variable the template takes from elsewhere (another stack's export, a resource, a pseudo
   * parameter, a secret): what it stands in for is the caller's to say.
   */
  readonly standIns: Readonly<Record<string, string>>;
  /** Variables whose literal value in the template names something that is elsewhere here, each with why. */
  readonly replaced: Readonly<Record<string, { readonly value: string; readonly why: string }>>;
  /** Variables the template does not set, which only a run away from AWS needs (an endpoint, credentials). */
  readonly localOnly: Readonly<Record<string, string>>;
}

/**
 * The container's environment with every value resolved: a literal as the template has it, a `Ref` to a parameter
 * as the parameter file sets it, anything else from `local.standIns`; then `local.localOnly`. Throws when the
 * template names a variable the caller supplies no value for, when the caller supplies a stand-in the template does
 * not need (a stale one), or a local-only variable the template sets (which would silently override it).
 */
export function resolveEnvironment(container: ServiceContainer, local: LocalValues): Record<string, string> {
  const environment: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of container.variables) {
    const ref = (value as Node | null)?.['Ref'];
    if (name in local.replaced) {
      if (typeof value !== 'string') problems.push(`${name} is no literal in the template: give it a stand-in`);
      environment[name] = local.replaced[name]?.value ?? '';
    } else if (typeof value === 'string' || typeof value === 'number') {
      environment[name] = String(value);
      if (name in local.standIns) problems.push(`${name} is a literal in the template: drop its stand-in`);
    } else if (typeof ref === 'string' && ref in container.parameters) {
      environment[name] = container.parameters[ref] ?? '';
      if (name in local.standIns) problems.push(`${name} is the parameter ${ref}: drop its stand-in`);
    } else if (name in local.standIns) {
      environment[name] = local.standIns[name] ?? '';
    } else {
      problems.push(`the template sets ${name} from ${JSON.stringify(value)}, and the image test has no local value`);
    }
  }
  for (const name of [...Object.keys(local.standIns), ...Object.keys(local.replaced)]) {
    if (!container.variables.has(name)) problems.push(`${name} has a local value, but the template does not set it`);
  }
  for (const [name, value] of Object.entries(local.localOnly)) {
    if (container.variables.has(name)) problems.push(`${name} is set by the template: resolve it, do not add it`);
    environment[name] = value;
  }
  if (problems.length > 0) throw new Error(`${container.name}'s environment:\n  ${problems.join('\n  ')}`);
  return environment;
}
