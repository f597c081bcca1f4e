// What CloudFormationRole must allow: each action that a handler of a deployed resource lists in its registry schema,
// on the ARN IAM authorises it on (infra/handler-permissions.json, test/support/stack-arns.ts), with the condition
// keys the call carries; and the handler permissions a test may leave out, each for a reason it checks.
import type { Node, Template } from './cloudformation.js';
import { handlerKinds, resourceTypesOf, type HandlerKind, type HandlerPermissions } from './handler-permissions.js';
import { evaluate, type PlainStatement, type Request } from './iam-policy.js';
import type { StackResource } from './stack-arns.js';

/**
 * Actions whose Service Authorization Reference entry names the resource itself but which IAM also authorises on
 * another resource of the same request.
 */
export const alsoOn: Record<string, string[]> = {
  // CreateSecurityGroup: "security-group*" and "vpc*" are both required resource types.
  'ec2:createsecuritygroup': ['ec2:vpc'],
  // The deployment APIs take service-deployment ARNs (ECS API Reference, DescribeServiceDeployments and
  // StopServiceDeployment: serviceDeploymentArns / serviceDeploymentArn).
  'ecs:describeservicedeployments': ['ecs:service-deployment'],
  'ecs:stopservicedeployment': ['ecs:service-deployment'],
};

/**
 * Actions whose listed resource types are all optional and none of which these stacks use, so that IAM authorises
 * the call on '*' (IAM User Guide, "Actions, resources, and condition keys": a type without an asterisk is optional).
 */
export const onAnyResource: Record<string, string> = {
  'cloudwatch:getmetricdata':
    "the 'dataset' type is for CloudWatch datasets; a target-tracking policy's metric query names none",
};

/** The condition keys a call carries, as IAM documents them for that action; one request per context. */
export function contextsOf(resource: StackResource, action: string): Record<string, string>[] | string {
  switch (action.toLowerCase()) {
    // "iam:PassedToService": the service the role is passed to (IAM User Guide, "Granting a user permissions to
    // pass a role to an AWS service"). A task definition passes its roles to ECS tasks.
    case 'iam:passrole':
      if (resource.type === 'AWS::ECS::TaskDefinition') return [{ 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }];
      return `iam:PassRole for ${resource.type}: passed to which service? Teach contextsOf`;
    // "iam:AWSServiceName": the service whose linked role is created.
    case 'iam:createservicelinkedrole':
      if (resource.type === 'AWS::ECS::Cluster') return [{ 'iam:AWSServiceName': 'ecs.amazonaws.com' }];
      if (resource.type === 'AWS::ApplicationAutoScaling::ScalableTarget') {
        const namespace = String(resource.properties['ServiceNamespace']);
        return [{ 'iam:AWSServiceName': `${namespace}.application-autoscaling.amazonaws.com` }];
      }
      return `iam:CreateServiceLinkedRole for ${resource.type}: for which service? Teach contextsOf`;
    // "iam:PolicyARN": one call per managed policy of the role, and none for a role that has none.
    case 'iam:attachrolepolicy':
    case 'iam:detachrolepolicy': {
      const pseudo = (text: string) => text.replace('${AWS::Partition}', 'aws');
      return [resource.properties['ManagedPolicyArns'] ?? []].flat().map((arn) => {
        const sub = (arn as Node)['Fn::Sub'];
        if (typeof arn !== 'string' && typeof sub !== 'string') {
          throw new Error(`${resource.logicalId}: managed policy ${JSON.stringify(arn)}, not a string or !Sub`);
        }
        return { 'iam:PolicyARN': pseudo(typeof arn === 'string' ? arn : String(sub)) };
      });
    }
    default:
      return [{}];
  }
}

/** The requests one handler-listed action makes for one resource, or why they cannot be told. */
export function requestsFor(resource: StackResource, action: string, data: HandlerPermissions): Request[] | string {
  const types = resourceTypesOf(data, action);
  if (types === undefined) return `${action} is not in the Service Authorization Reference`;
  const key = action.toLowerCase();
  const prefix = key.split(':')[0] ?? '';
  const qualified = types.map((type) => `${prefix}:${type}`);
  let arns: string[];
  if (types.length === 0 || key in onAnyResource) {
    arns = ['*'];
  } else if (resource.own && qualified.includes(resource.own)) {
    arns = [resource.own, ...(alsoOn[key] ?? [])].flatMap((type) => resource.arns[type] ?? []);
  } else {
    arns = qualified.flatMap((type) => resource.arns[type] ?? []);
    if (arns.length === 0) {
      return `${action} for ${resource.type}: takes ${qualified.join(', ')}, none of which test/support/stack-arns.ts names for it`;
    }
  }
  const contexts = contextsOf(resource, action);
  if (typeof contexts === 'string') return contexts;
  return arns.flatMap((arn) => contexts.map((context) => ({ action, resource: arn, context })));
}

// ---- Exclusions ----------------------------------------------------------------------------------------------------

export type When =
  /** Every path is absent from every resource of the type (this one unless named) in every deployed template. */
  | { absent: string[]; of?: string }
  /** The property at the path never takes one of these values. */
  | { path: string; never: string[] }
  /** No deployed template declares a resource of this type. */
  | { noResourceOf: string }
  /** A call that no property asks for: it must stay listed by exactly these handlers, or be looked at again. */
  | { onlyIn: HandlerKind[] };

export interface Exclusion {
  type: string;
  actions: string[];
  when: When;
  why: string;
}

/** Every value a dotted path reaches in a resource's properties, through lists and both branches of Fn::If. */
export function valuesAt(properties: unknown, path: string): unknown[] {
  const [head = '', ...rest] = path.split('.');
  const expand = (node: unknown): unknown[] => {
    if (Array.isArray(node)) return node.flatMap(expand);
    if (node !== null && typeof node === 'object' && 'Fn::If' in node) {
      const [, yes, no] = (node as { 'Fn::If': [string, unknown, unknown] })['Fn::If'];
      return [...expand(yes), ...expand(no)];
    }
    const isNoValue = node !== null && typeof node === 'object' && (node as Node)['Ref'] === 'AWS::NoValue';
    return node === undefined || isNoValue ? [] : [node];
  };
  const here = expand(properties).flatMap((node) =>
    node !== null && typeof node === 'object' ? expand((node as Node)[head]) : [],
  );
  return rest.length === 0 ? here : here.flatMap((node) => valuesAt(node, rest.join('.')));
}

/** Why an exclusion does not hold for these templates and this data; none when it does. */
export function exclusionProblems(
  exclusion: Exclusion,
  templates: Map<string, Template>,
  data: HandlerPermissions,
): string[] {
  const problems: string[] = [];
  const handlers = data.resourceTypes[exclusion.type];
  const label = `${exclusion.type} ${exclusion.actions.join(', ')}`;
  if (!handlers) return [`${label}: the stacks use no ${exclusion.type}`];
  for (const action of exclusion.actions) {
    const listedBy = handlerKinds.filter((kind) => handlers[kind].includes(action));
    if (listedBy.length === 0) problems.push(`${exclusion.type} ${action}: no handler lists it (a stale exclusion)`);
    const when = exclusion.when;
    if ('onlyIn' in when && listedBy.join() !== when.onlyIn.join()) {
      problems.push(
        `${exclusion.type} ${action}: listed by ${listedBy.join(', ') || 'no handler'}, not only ${when.onlyIn.join(', ')}`,
      );
    }
  }
  const resources = (type: string) =>
    [...templates].flatMap(([path, template]) =>
      Object.entries(template.Resources)
        .filter(([, r]) => r.Type === type)
        .map(([id, r]) => [`${path} ${id}`, r.Properties] as const),
    );
  const when = exclusion.when;
  if ('absent' in when) {
    for (const [where, properties] of resources(when.of ?? exclusion.type)) {
      for (const path of when.absent) {
        if (valuesAt(properties, path).length > 0) problems.push(`${label}: ${where} sets ${path}`);
      }
    }
  } else if ('path' in when) {
    for (const [where, properties] of resources(exclusion.type)) {
      for (const value of valuesAt(properties, when.path)) {
        if (typeof value !== 'string') problems.push(`${label}: ${where} ${when.path} is not a literal`);
        else if (when.never.includes(value)) problems.push(`${label}: ${where} sets ${when.path} to ${value}`);
      }
    }
  } else if ('noResourceOf' in when && resources(when.noResourceOf).length > 0) {
    problems.push(`${label}: a template declares ${when.noResourceOf}`);
  }
  return problems;
}

/** Every handler-listed call the role does not allow on the ARN it acts on, as sentences; none when all are. */
export function missingPermissions(
  statements: PlainStatement[],
  resources: StackResource[],
  data: HandlerPermissions,
  exclusions: Exclusion[],
): string[] {
  const excluded = (type: string, action: string) =>
    exclusions.some((e) => e.type === type && e.actions.includes(action));
  const problems = new Set<string>();
  for (const resource of resources) {
    const handlers = data.resourceTypes[resource.type];
    if (!handlers) {
      problems.add(`${resource.type} (${resource.template}) is not in infra/handler-permissions.json: refresh it`);
      continue;
    }
    for (const kind of handlerKinds) {
      for (const action of handlers[kind]) {
        if (excluded(resource.type, action)) continue;
        const requests = requestsFor(resource, action, data);
        if (typeof requests === 'string') {
          problems.add(requests);
          continue;
        }
        for (const request of requests) {
          const decision = evaluate(statements, request);
          if (decision.allowed) continue;
          const context = Object.entries(request.context ?? {})
            .map(([k, v]) => ` with ${k}=${v}`)
            .join('');
          const denial = decision.why === 'explicit deny' ? `denied by ${decision.by ?? '?'}` : 'not allowed';
          problems.add(`${action} on ${request.resource}${context}: ${denial} (${resource.type} ${kind})`);
        }
      }
    }
  }
  return [...problems];
}
