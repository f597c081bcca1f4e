// The resources of the stacks that the pipeline deploys as CloudFormationRole, each with the ARNs IAM authorises its
// handlers' calls on: its own ARN as the stack names it, and the ARNs of what it acts on besides (the roles a task
// definition passes, the user pool a client belongs to, the alarms target tracking keeps). Names come from the
// templates, the pipeline's stack names and its parameter files; where a template names nothing, CloudFormation
// generates "<stack name>-<logical ID>-<random string>" (AWS CloudFormation User Guide, "Name type",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html). Ids only AWS knows (a
// user pool's, a security group's, a load balancer's) are fixed stand-ins of the documented shape.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadTemplate, type Node, type Template } from './cloudformation.js';
import type { Place } from './iam-policy.js';

export interface StackResource {
  template: string;
  environment: string;
  stack: string;
  logicalId: string;
  type: string;
  properties: Node;
  /** The Service Authorization Reference's resource type of the resource itself ("ecs:service"), if it has one. */
  own?: string;
  /** ARNs by resource type ("iam:role"): the resource's own, and those of what its handlers act on besides. */
  arns: Record<string, string[]>;
}

export interface Deployment {
  template: string;
  stack: string;
  environment: string;
  parameters: Record<string, string>;
}

/** Every CloudFormation deploy action of the pipeline that runs as CloudFormationRole. */
export function deploymentsOf(pipeline: Template): Deployment[] {
  const found: Deployment[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const action = node as { ActionTypeId?: { Provider?: string }; Configuration?: Record<string, unknown> };
    const config = action.Configuration;
    const role = (config?.['RoleArn'] as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0];
    if (action.ActionTypeId?.Provider === 'CloudFormation' && config && role === 'CloudFormationRole') {
      const artifactPath = (key: string) => String(config[key]).replace(/^[^:]+::/, '');
      const file = JSON.parse(readFileSync(artifactPath('TemplateConfiguration'), 'utf8')) as {
        Parameters: Record<string, string>;
      };
      found.push({
        template: artifactPath('TemplatePath'),
        stack: String(config['StackName']),
        environment: String(file.Parameters['EnvironmentName']),
        parameters: file.Parameters,
      });
      return;
    }
    Object.values(node).forEach(walk);
  };
  walk(pipeline.Resources);
  return found;
}

// Stand-ins for what only AWS assigns; each has the shape AWS documents for it.
const randomSuffix = '1A2B3C4D5E6F7';
const hexId = '0123456789abcdef';

interface Model {
  /** The Service Authorization Reference's resource type of the resource itself. */
  own?: string;
  /** The property that names the resource, when the template may set it. */
  nameProperty?: string;
  /** Longest generated name (CloudFormation shortens stack name and logical ID to fit). */
  maxLength?: number;
  /** Neither named nor generated from the stack name: an id AWS assigns. */
  id?: (ctx: Context) => string;
  arn?: (ctx: Context) => string;
  /** What !Ref gives: the name, the id or the ARN (per the resource's "Return values"). */
  ref: 'name' | 'arn' | 'none';
  /** ARNs of what its handlers act on besides the resource itself. */
  related?: (ctx: Context) => Record<string, string[]>;
  attributes?: Record<string, (ctx: Context) => string>;
}

interface Context {
  name: string;
  place: Place;
  p: (property: string) => unknown;
  resolve: (node: unknown) => string;
  arnOf: (logicalId: string) => string;
}

const arnPrefix = (ctx: Context, service: string, regional = true) =>
  `arn:${ctx.place.partition}:${service}:${regional ? ctx.place.region : ''}:${ctx.place.account}`;
const roleArn = (ctx: Context, name: string) => `${arnPrefix(ctx, 'iam', false)}:role/${name}`;
const list = (value: unknown): unknown[] => (value === undefined ? [] : [value].flat());
/** The role the service creates on first use, named as IAM's service-linked role pages name it. */
const serviceLinkedRole = (ctx: Context, service: string, name: string) =>
  roleArn(ctx, `aws-service-role/${service}/${name}`);

const models: Record<string, Model> = {
  'AWS::DynamoDB::Table': {
    own: 'dynamodb:table',
    nameProperty: 'TableName',
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'dynamodb')}:table/${c.name}`,
  },
  'AWS::SNS::Topic': {
    own: 'sns:topic',
    nameProperty: 'TopicName',
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'sns')}:${c.name}`,
    attributes: { TopicName: (c) => c.name },
  },
  // A subscription's calls are authorised on its topic.
  'AWS::SNS::Subscription': { ref: 'none', related: (c) => ({ 'sns:topic': [c.resolve(c.p('TopicArn'))] }) },
  'AWS::Logs::LogGroup': {
    own: 'logs:log-group',
    nameProperty: 'LogGroupName',
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'logs')}:log-group:${c.name}`,
  },
  // Secrets Manager appends a hyphen and six random characters to the name.
  'AWS::SecretsManager::Secret': {
    own: 'secretsmanager:secret',
    nameProperty: 'Name',
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'secretsmanager')}:secret:${c.name}-AbCdEf`,
  },
  'AWS::SecretsManager::ResourcePolicy': {
    ref: 'none',
    related: (c) => ({ 'secretsmanager:secret': [c.resolve(c.p('SecretId'))] }),
  },
  'AWS::ECS::Cluster': {
    own: 'ecs:cluster',
    nameProperty: 'ClusterName',
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'ecs')}:cluster/${c.name}`,
    related: (c) => ({ 'iam:role': [serviceLinkedRole(c, 'ecs.amazonaws.com', 'AWSServiceRoleForECS')] }),
  },
  // The long ARN format (cluster name in it), the default for services since 2021.
  'AWS::ECS::Service': {
    own: 'ecs:service',
    nameProperty: 'ServiceName',
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'ecs')}:service/${c.resolve(c.p('Cluster'))}/${c.name}`,
    attributes: { Name: (c) => c.name },
    related: (c) => {
      const cluster = c.resolve(c.p('Cluster'));
      return {
        'ecs:cluster': [`${arnPrefix(c, 'ecs')}:cluster/${cluster}`],
        'ecs:service-deployment': [`${arnPrefix(c, 'ecs')}:service-deployment/${cluster}/${c.name}/${hexId}`],
      };
    },
  },
  'AWS::ECS::TaskDefinition': {
    own: 'ecs:task-definition',
    nameProperty: 'Family',
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'ecs')}:task-definition/${c.name}:1`,
    // The task role and the execution role it passes to ECS tasks.
    related: (c) => ({
      'iam:role': ['TaskRoleArn', 'ExecutionRoleArn'].filter((k) => c.p(k) !== undefined).map((k) => c.resolve(c.p(k))),
    }),
  },
  'AWS::IAM::Role': {
    own: 'iam:role',
    nameProperty: 'RoleName',
    maxLength: 64,
    ref: 'name',
    arn: (c) => roleArn(c, c.name),
  },
  // An inline policy's calls (PutRolePolicy …) are authorised on the roles it is put on.
  'AWS::IAM::Policy': {
    ref: 'none',
    related: (c) => ({ 'iam:role': list(c.p('Roles')).map((r) => roleArn(c, c.resolve(r))) }),
  },
  'AWS::EC2::SecurityGroup': {
    own: 'ec2:security-group',
    id: () => `sg-${hexId}0`,
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'ec2')}:security-group/${c.name}`,
    related: (c) => ({ 'ec2:vpc': [`${arnPrefix(c, 'ec2')}:vpc/${c.resolve(c.p('VpcId'))}`] }),
  },
  'AWS::ElasticLoadBalancingV2::LoadBalancer': {
    own: 'elasticloadbalancing:loadbalancer/app/',
    nameProperty: 'Name',
    maxLength: 32,
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'elasticloadbalancing')}:loadbalancer/app/${c.name}/${hexId}`,
  },
  'AWS::ElasticLoadBalancingV2::TargetGroup': {
    own: 'elasticloadbalancing:targetgroup',
    nameProperty: 'Name',
    maxLength: 32,
    ref: 'arn',
    arn: (c) => `${arnPrefix(c, 'elasticloadbalancing')}:targetgroup/${c.name}/${hexId}`,
  },
  'AWS::ElasticLoadBalancingV2::Listener': {
    own: 'elasticloadbalancing:listener/app',
    ref: 'arn',
    arn: (c) => `${c.resolve(c.p('LoadBalancerArn')).replace(':loadbalancer/', ':listener/')}/fedcba9876543210`,
    related: (c) => ({ 'elasticloadbalancing:loadbalancer/app/': [c.resolve(c.p('LoadBalancerArn'))] }),
  },
  // Target tracking keeps two alarms per policy, "TargetTracking-<resource id>-AlarmHigh-<uuid>" and "…-AlarmLow-…"
  // (Application Auto Scaling User Guide, "Target tracking scaling policies"): created by the policy, changed when
  // the target's capacity changes.
  'AWS::ApplicationAutoScaling::ScalableTarget': {
    own: 'application-autoscaling:scalabletarget',
    id: () => `${hexId}${hexId}`,
    ref: 'none',
    arn: (c) => `${arnPrefix(c, 'application-autoscaling')}:scalable-target/${c.name}`,
    related: (c) => ({
      'cloudwatch:alarm': targetTrackingAlarms(c, c.resolve(c.p('ResourceId'))),
      'iam:role': [
        serviceLinkedRole(
          c,
          `${c.resolve(c.p('ServiceNamespace'))}.application-autoscaling.amazonaws.com`,
          'AWSServiceRoleForApplicationAutoScaling_ECSService',
        ),
      ],
    }),
  },
  'AWS::ApplicationAutoScaling::ScalingPolicy': {
    ref: 'none',
    related: (c) => {
      const target = c.p('ScalingTargetId') as { Ref?: string } | undefined;
      assert.ok(target?.Ref, 'a scaling policy names its target with ScalingTargetId: !Ref <ScalableTarget>');
      return { 'application-autoscaling:scalabletarget': [c.arnOf(target.Ref)] };
    },
  },
  'AWS::CloudWatch::Alarm': {
    own: 'cloudwatch:alarm',
    nameProperty: 'AlarmName',
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'cloudwatch')}:alarm:${c.name}`,
  },
  // Dashboards are global: no region in their ARN.
  'AWS::CloudWatch::Dashboard': {
    own: 'cloudwatch:dashboard',
    nameProperty: 'DashboardName',
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'cloudwatch', false)}:dashboard/${c.name}`,
  },
  'AWS::Cognito::UserPool': {
    own: 'cognito-idp:userpool',
    id: (c) => `${c.place.region}_AbCdEfGhI`,
    ref: 'name',
    arn: (c) => `${arnPrefix(c, 'cognito-idp')}:userpool/${c.name}`,
  },
  'AWS::Cognito::UserPoolClient': { ref: 'none', related: (c) => userPoolOf(c) },
  'AWS::Cognito::UserPoolDomain': { ref: 'none', related: (c) => userPoolOf(c) },
  'AWS::Cognito::UserPoolGroup': { ref: 'none', related: (c) => userPoolOf(c) },
  'AWS::Cognito::UserPoolResourceServer': { ref: 'none', related: (c) => userPoolOf(c) },
  // CloudFormation's own: no handler calls another service.
  'AWS::CloudFormation::WaitConditionHandle': { ref: 'none' },
};

function userPoolOf(c: Context): Record<string, string[]> {
  return { 'cognito-idp:userpool': [`${arnPrefix(c, 'cognito-idp')}:userpool/${c.resolve(c.p('UserPoolId'))}`] };
}

function targetTrackingAlarms(c: Context, resourceId: string): string[] {
  const uuid = '00000000-0000-0000-0000-000000000000';
  return ['AlarmHigh', 'AlarmLow'].map(
    (kind) => `${arnPrefix(c, 'cloudwatch')}:alarm:TargetTracking-${resourceId}-${kind}-${uuid}`,
  );
}

/** CloudFormation's generated name, shortened as it shortens names for types with a length limit. */
function generatedName(stack: string, logicalId: string, maxLength = 255): string {
  const full = `${stack}-${logicalId}-${randomSuffix}`;
  if (full.length <= maxLength) return full;
  const room = maxLength - randomSuffix.length - 2;
  const half = Math.floor(room / 2);
  return `${stack.slice(0, room - Math.min(half, logicalId.length))}-${logicalId.slice(0, half)}-${randomSuffix}`;
}

/** The resources of one deployment, with names resolved and ARNs built. */
export function resourcesOfDeployment(deployment: Deployment, place: Place, template?: Template): StackResource[] {
  const parsed = template ?? loadTemplate(deployment.template);
  const modelOf = (logicalId: string): [Node & { Type: string; Properties?: Node }, Model] => {
    const resource = parsed.Resources[logicalId] as (Node & { Type: string; Properties?: Node }) | undefined;
    assert.ok(resource, `${deployment.template} has no resource ${logicalId}`);
    const model = models[resource.Type];
    assert.ok(model, `test/support/stack-arns.ts knows no ARNs of ${resource.Type}: teach it, citing AWS's docs`);
    return [resource, model];
  };
  const pseudo: Record<string, string> = {
    'AWS::StackName': deployment.stack,
    'AWS::Region': place.region,
    'AWS::AccountId': place.account,
    'AWS::Partition': place.partition,
  };
  const names = new Map<string, string>();
  const nameOf = (logicalId: string): string => {
    const known = names.get(logicalId);
    if (known !== undefined) return known;
    const [resource, model] = modelOf(logicalId);
    const property = model.nameProperty ? resource.Properties?.[model.nameProperty] : undefined;
    const name =
      property !== undefined
        ? resolve(property)
        : model.id
          ? model.id(context(logicalId, ''))
          : generatedName(deployment.stack, logicalId, model.maxLength);
    names.set(logicalId, name);
    return name;
  };
  const context = (logicalId: string, name: string): Context => ({
    name,
    place,
    p: (key) => parsed.Resources[logicalId]?.Properties[key],
    resolve,
    arnOf,
  });
  const arnOf = (logicalId: string): string => {
    const [, model] = modelOf(logicalId);
    assert.ok(model.arn, `${logicalId} has no ARN of its own`);
    return model.arn(context(logicalId, nameOf(logicalId)));
  };
  function resolve(node: unknown): string {
    if (typeof node === 'string') return node;
    const [[fn, arg] = []] = Object.entries((node ?? {}) as Node);
    if (fn === 'Ref' && typeof arg === 'string') {
      const given = pseudo[arg] ?? deployment.parameters[arg];
      if (given !== undefined) return given;
      const declared = parsed.Parameters[arg];
      if (declared) {
        assert.ok(typeof declared.Default === 'string', `no value for parameter ${arg} of ${deployment.template}`);
        return declared.Default;
      }
      const [, model] = modelOf(arg);
      assert.ok(model.ref !== 'none', `!Ref ${arg}: what it returns is not modelled`);
      return model.ref === 'arn' ? arnOf(arg) : nameOf(arg);
    }
    if (fn === 'Fn::GetAtt') {
      const [logicalId = '', attribute = ''] = arg as string[];
      if (attribute === 'Arn') return arnOf(logicalId);
      const [, model] = modelOf(logicalId);
      const read = model.attributes?.[attribute];
      assert.ok(read, `!GetAtt ${logicalId}.${attribute} is not modelled`);
      return read(context(logicalId, nameOf(logicalId)));
    }
    if (fn === 'Fn::Sub') {
      const [text, variables = {}] = (Array.isArray(arg) ? arg : [arg]) as [string, Node?];
      return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        if (name in variables) return resolve(variables[name]);
        const [logicalId = '', attribute] = name.split('.');
        return resolve(attribute ? { 'Fn::GetAtt': [logicalId, attribute] } : { Ref: logicalId });
      });
    }
    throw new Error(`cannot resolve ${JSON.stringify(node)} in ${deployment.template}`);
  }

  return Object.entries(parsed.Resources).map(([logicalId, resource]) => {
    const [, model] = modelOf(logicalId);
    const ctx = context(logicalId, model.arn ? nameOf(logicalId) : '');
    const arns: Record<string, string[]> = { ...model.related?.(ctx) };
    if (model.own && model.arn) arns[model.own] = [model.arn(ctx)];
    return {
      template: deployment.template,
      environment: deployment.environment,
      stack: deployment.stack,
      logicalId,
      type: resource.Type,
      properties: resource.Properties,
      ...(model.own ? { own: model.own } : {}),
      arns,
    };
  });
}
