// CloudFormationRole, the role the pipeline deploys every stack as, against AWS's own data: each resource type's
// handler permissions from its registry schema, and the Service Authorization Reference's resource types (both in
// infra/handler-permissions.json, with their sources and dates). A call the role does not allow on the ARN it acts on
// fails a deploy, an update or a rollback, often only in AWS; this finds it here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadTemplate, statementsOf, type Statement, type Template } from './support/cloudformation.js';
import {
  deployedTemplates,
  handlerKinds,
  loadHandlerPermissions,
  resourceTypesOf,
  type HandlerPermissions,
} from './support/handler-permissions.js';
import { evaluate, plainStatements, wildcard, type PlainStatement } from './support/iam-policy.js';
import { exclusionProblems, missingPermissions, type Exclusion } from './support/role-check.js';
import { deploymentsOf, resourcesOfDeployment, type StackResource } from './support/stack-arns.js';

const place = { partition: 'aws', region: 'us-east-1', account: '123456789012' };
const pipeline = loadTemplate('infra/pipeline.template.yml');
const data = loadHandlerPermissions();
const templates = new Map<string, Template>(deployedTemplates().map((path) => [path, loadTemplate(path)]));
const deployments = deploymentsOf(pipeline);
const resources = deployments.flatMap((deployment) => resourcesOfDeployment(deployment, place));
const roleStatements = (): Statement[] =>
  structuredClone(statementsOf(pipeline.Resources['CloudFormationRole'] ?? assert.fail('no CloudFormationRole')));
const role = plainStatements(roleStatements(), place);
const sub = (text: string) => ({ 'Fn::Sub': text });

/**
 * Handler permissions the role need not grant, each for a reason the test checks against the templates. Most serve a
 * property these stacks do not set (a customer managed key, replicas, a Kinesis stream, an import, a role to pass);
 * such a call is made only for that property, so setting it fails this test until the role grants the call.
 */
const exclusions: Exclusion[] = [
  // ---- Customer managed KMS keys: none here. DynamoDB's SSEEnabled without a key uses aws/dynamodb, whose key policy
  // admits every principal of the account through DynamoDB (AWS KMS Developer Guide, "AWS managed keys").
  {
    type: 'AWS::DynamoDB::Table',
    actions: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ListAliases', 'kms:RevokeGrant'],
    when: { absent: ['SSESpecification.KMSMasterKeyId'] },
    why: 'a customer managed key for the table',
  },
  {
    type: 'AWS::Cognito::UserPool',
    actions: [
      'kms:CreateGrant',
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ],
    when: { absent: ['KeyConfiguration', 'LambdaConfig'] },
    why: "the pool's customer managed key (KeyConfiguration) or custom sender triggers' key (LambdaConfig.KMSKeyID)",
  },
  {
    type: 'AWS::Cognito::UserPoolDomain',
    actions: [
      'kms:CreateGrant',
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ],
    when: { absent: ['KeyConfiguration'], of: 'AWS::Cognito::UserPool' },
    why: "the user pool's customer managed key, the only key a pool's domain can be under",
  },
  {
    type: 'AWS::ECS::Cluster',
    actions: ['kms:DescribeKey'],
    when: { absent: ['Configuration'] },
    why: 'managed storage and ECS Exec keys (Configuration.ManagedStorageConfiguration, ExecuteCommandConfiguration)',
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: ['logs:AssociateKmsKey', 'logs:DisassociateKmsKey'],
    when: { absent: ['KmsKeyId'] },
    why: 'a customer managed key for the log group',
  },
  // ---- DynamoDB features the tables do not use.
  {
    type: 'AWS::DynamoDB::Table',
    actions: [
      'dynamodb:ImportTable',
      'dynamodb:DescribeImport',
      's3:GetObject',
      's3:GetObjectMetadata',
      's3:ListBucket',
      'logs:CreateLogGroup',
      'logs:CreateLogStream',
      'logs:DescribeLogGroups',
      'logs:DescribeLogStreams',
      'logs:PutLogEvents',
      'logs:PutRetentionPolicy',
    ],
    when: { absent: ['ImportSourceSpecification'] },
    why: 'an import from S3, which reads the bucket and logs to CloudWatch (DynamoDB Developer Guide, "Import from S3")',
  },
  {
    type: 'AWS::DynamoDB::Table',
    actions: [
      'dynamodb:EnableKinesisStreamingDestination',
      'dynamodb:DisableKinesisStreamingDestination',
      'dynamodb:UpdateKinesisStreamingDestination',
      'kinesis:DescribeStream',
      'kinesis:PutRecords',
    ],
    when: { absent: ['KinesisStreamSpecification'] },
    why: 'change data capture to a Kinesis stream',
  },
  {
    type: 'AWS::DynamoDB::Table',
    actions: ['iam:CreateServiceLinkedRole'],
    when: { absent: ['KinesisStreamSpecification', 'ContributorInsightsSpecification'] },
    why: "DynamoDB's service-linked roles, for Kinesis streaming and contributor insights (replicas: see below)",
  },
  {
    type: 'AWS::DynamoDB::Table',
    actions: ['dynamodb:UpdateContributorInsights'],
    when: { absent: ['ContributorInsightsSpecification', 'GlobalSecondaryIndexes.ContributorInsightsSpecification'] },
    why: 'contributor insights on the table or an index',
  },
  {
    type: 'AWS::DynamoDB::Table',
    actions: ['dynamodb:UpdateTimeToLive'],
    when: { absent: ['TimeToLiveSpecification'] },
    why: 'expiry of items by a time-to-live attribute',
  },
  {
    type: 'AWS::DynamoDB::Table',
    actions: ['dynamodb:PutResourcePolicy', 'dynamodb:DeleteResourcePolicy'],
    when: { absent: ['ResourcePolicy'] },
    why: 'a resource policy on the table (GetResourcePolicy, which the read handler calls, is granted)',
  },
  // The set AWS documents for adding a replica to a global table: CreateTableReplica and the item calls that copy the
  // data (DynamoDB Developer Guide, "DynamoDB global tables security",
  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2gt_IAM.html). AWS::DynamoDB::Table declares no
  // replicas (AWS::DynamoDB::GlobalTable does), and the item calls are data: 'reads no data' forbids them.
  {
    type: 'AWS::DynamoDB::Table',
    actions: [
      'dynamodb:CreateTableReplica',
      'dynamodb:AssociateTableReplica',
      'dynamodb:Scan',
      'dynamodb:Query',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ],
    when: { noResourceOf: 'AWS::DynamoDB::GlobalTable' },
    why: 'global-table replicas',
  },
  // ---- Roles these stacks never pass (the task definition's roles are checked, with iam:PassedToService).
  {
    type: 'AWS::ApplicationAutoScaling::ScalableTarget',
    actions: ['iam:PassRole'],
    when: { absent: ['RoleARN'] },
    why: "a role of one's own instead of the service-linked role",
  },
  {
    type: 'AWS::ECS::Service',
    actions: ['iam:PassRole'],
    when: { absent: ['Role', 'VpcLatticeConfigurations', 'VolumeConfigurations'] },
    why: "the classic load balancer role, VPC Lattice's infrastructure role, managed EBS volumes' role",
  },
  {
    type: 'AWS::Cognito::UserPool',
    actions: ['iam:PassRole'],
    when: { absent: ['SmsConfiguration'] },
    why: 'the role Cognito sends SMS messages with (SmsConfiguration.SnsCallerArn)',
  },
  // AWSServiceRoleForAmazonCognitoIdpEmailService sends email through SES, AWSServiceRoleForAmazonCognitoIdp
  // publishes to Pinpoint (Amazon Cognito Developer Guide, "Using service-linked roles for Amazon Cognito",
  // https://docs.aws.amazon.com/cognito/latest/developerguide/using-service-linked-roles.html).
  {
    type: 'AWS::Cognito::UserPool',
    actions: ['iam:CreateServiceLinkedRole'],
    when: { absent: ['EmailConfiguration'] },
    why: "email sent through one's own SES identity",
  },
  {
    type: 'AWS::Cognito::UserPoolClient',
    actions: ['iam:PassRole', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:CreateServiceLinkedRole'],
    when: { absent: ['AnalyticsConfiguration'] },
    why: 'Pinpoint analytics, with its role or the service-linked role',
  },
  {
    type: 'AWS::Cognito::UserPoolGroup',
    actions: ['iam:PassRole', 'iam:PutRolePolicy'],
    when: { absent: ['RoleArn'] },
    why: "a group's IAM role for identity pools",
  },
  {
    type: 'AWS::SNS::Topic',
    actions: ['iam:GetRole', 'iam:PassRole'],
    when: { absent: ['DeliveryStatusLogging'] },
    why: 'the roles that log delivery status to CloudWatch',
  },
  {
    type: 'AWS::SNS::Subscription',
    actions: ['iam:GetRole', 'iam:PassRole'],
    when: { absent: ['SubscriptionRoleArn'] },
    why: "a Firehose subscription's role",
  },
  {
    type: 'AWS::IAM::Policy',
    actions: [
      'iam:GetUserPolicy',
      'iam:PutUserPolicy',
      'iam:DeleteUserPolicy',
      'iam:GetGroupPolicy',
      'iam:PutGroupPolicy',
      'iam:DeleteGroupPolicy',
    ],
    when: { absent: ['Users', 'Groups'] },
    why: 'a policy on IAM users or groups (the stacks put policies on roles only)',
  },
  // Also a way out of any limit set on a role: never granted while no role has a boundary.
  {
    type: 'AWS::IAM::Role',
    actions: ['iam:PutRolePermissionsBoundary', 'iam:DeleteRolePermissionsBoundary'],
    when: { absent: ['PermissionsBoundary'] },
    why: 'a permissions boundary',
  },
  // ---- Other properties not set.
  {
    type: 'AWS::ApplicationAutoScaling::ScalableTarget',
    actions: ['application-autoscaling:PutScheduledAction', 'application-autoscaling:DeleteScheduledAction'],
    when: { absent: ['ScheduledActions'] },
    why: 'scheduled scaling',
  },
  {
    type: 'AWS::ApplicationAutoScaling::ScalableTarget',
    actions: [
      'lambda:GetProvisionedConcurrencyConfig',
      'lambda:PutProvisionedConcurrencyConfig',
      'lambda:DeleteProvisionedConcurrencyConfig',
    ],
    when: { path: 'ServiceNamespace', never: ['lambda'] },
    why: "scaling a Lambda function's provisioned concurrency",
  },
  {
    type: 'AWS::Cognito::UserPool',
    actions: ['cognito-idp:AddCustomAttributes'],
    when: { absent: ['Schema'] },
    why: 'custom user attributes',
  },
  {
    type: 'AWS::Cognito::UserPoolDomain',
    actions: ['cloudfront:updateDistribution'],
    when: { absent: ['CustomDomainConfig'] },
    why: "a custom domain, served by Cognito's CloudFront distribution",
  },
  {
    type: 'AWS::ElasticLoadBalancingV2::Listener',
    actions: ['cognito-idp:DescribeUserPoolClient'],
    when: { path: 'DefaultActions.Type', never: ['authenticate-cognito'] },
    why: 'a listener that signs people in with Cognito',
  },
  {
    type: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
    actions: ['elasticloadbalancing:ModifyCapacityReservation'],
    when: { absent: ['MinimumLoadBalancerCapacity'] },
    why: 'reserved load balancer capacity (billed)',
  },
  {
    type: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
    actions: ['elasticloadbalancing:SetIpAddressType'],
    when: { absent: ['IpAddressType'] },
    why: 'a change of IP address type (dual stack)',
  },
  {
    type: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
    actions: ['elasticloadbalancing:ModifyIpPools'],
    when: { absent: ['Ipv4IpamPoolId'] },
    why: 'addresses from an IPAM pool',
  },
  // ECS registers the tasks itself, with its service-linked role.
  {
    type: 'AWS::ElasticLoadBalancingV2::TargetGroup',
    actions: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'],
    when: { absent: ['Targets'] },
    why: 'targets named in the template',
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: [
      'logs:PutDataProtectionPolicy',
      'logs:CreateLogDelivery',
      's3:REST.PUT.OBJECT',
      'firehose:TagDeliveryStream',
    ],
    when: { absent: ['DataProtectionPolicy'] },
    why: "a data protection policy and its audit findings' destinations (S3, Firehose)",
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: ['logs:PutResourcePolicy', 'logs:DeleteResourcePolicy'],
    when: { absent: ['ResourcePolicyDocument'] },
    why: 'a resource policy on the log group',
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: ['logs:PutIndexPolicy', 'logs:DeleteIndexPolicy'],
    when: { absent: ['FieldIndexPolicies'] },
    why: 'field indexes',
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: ['logs:PutLogGroupDeletionProtection'],
    when: { absent: ['DeletionProtectionEnabled'] },
    why: 'deletion protection',
  },
  {
    type: 'AWS::Logs::LogGroup',
    actions: ['logs:PutBearerTokenAuthentication'],
    when: { absent: ['BearerTokenAuthenticationEnabled'] },
    why: 'bearer-token ingestion',
  },
  {
    type: 'AWS::SecretsManager::Secret',
    actions: ['secretsmanager:ReplicateSecretToRegions'],
    when: { absent: ['ReplicaRegions'] },
    why: 'replicas in other regions (RemoveRegionsFromReplication, on delete, is granted)',
  },
  {
    type: 'AWS::SNS::Topic',
    actions: ['sns:PutDataProtectionPolicy'],
    when: { absent: ['DataProtectionPolicy'] },
    why: 'a data protection policy',
  },
  {
    type: 'AWS::SNS::Subscription',
    actions: ['sns:SetSubscriptionAttributes'],
    when: {
      absent: [
        'FilterPolicy',
        'FilterPolicyScope',
        'RawMessageDelivery',
        'RedrivePolicy',
        'DeliveryPolicy',
        'ReplayPolicy',
      ],
    },
    why: 'the attributes an update may change; the others replace the subscription',
  },
  // ---- Calls no property asks for, each kept to the handlers that list it today.
  {
    type: 'AWS::ECS::Cluster',
    actions: ['ecs:PutAccountSetting', 'ecs:PutAccountSettingDefault'],
    when: { onlyIn: ['update'] },
    why:
      "account-wide ECS settings (every cluster's and service's in the region, tag authorisation among them): no " +
      'property of AWS::ECS::Cluster sets one, and the role must not change the settings of other workloads',
  },
  {
    type: 'AWS::SNS::Subscription',
    actions: ['sns:ListSubscriptions'],
    when: { onlyIn: ['list'] },
    why:
      "every subscriber's endpoint in the account (email addresses, phone numbers); only the list handler lists it, " +
      "and stack operations call create, read, update and delete (list serves Cloud Control's ListResources)",
  },
];

describe('the CloudFormation execution role against the handlers of the resources it deploys', () => {
  it('keeps the handler permissions of every resource type of every template it deploys, with their source', () => {
    // A template moved or split keeps its types covered; a new type needs `npm run refresh:handler-permissions`.
    const types = new Set([...templates.values()].flatMap((t) => Object.values(t.Resources).map((r) => r.Type)));
    const missing = [...types].filter((type) => !(type in data.resourceTypes));
    assert.deepEqual(missing, [], 'not in infra/handler-permissions.json: npm run refresh:handler-permissions');
    for (const [type, handlers] of Object.entries(data.resourceTypes)) {
      assert.deepEqual(Object.keys(handlers), [...handlerKinds], type);
    }
    for (const source of Object.values(data.sources)) {
      assert.match(source.commit, /^[0-9a-f]{40}$/);
      assert.match(source.date, /^\d{4}-\d{2}-\d{2}$/);
    }
    // The schemas that matter here are in it: ECS's service-deployment calls (2025) and the tagged dashboard (2026-05).
    assert.ok(data.resourceTypes['AWS::ECS::Service']?.update.includes('ecs:StopServiceDeployment'));
    assert.ok(data.resourceTypes['AWS::CloudWatch::Dashboard']?.create.includes('cloudwatch:TagResource'));
  });

  it('finds every template it checks deployed by the pipeline, in both environments, as this role', () => {
    for (const template of deployedTemplates()) {
      assert.deepEqual(
        deployments
          .filter((d) => d.template === template)
          .map((d) => d.environment)
          .sort(),
        ['dev', 'prod'],
        `${template}: deployed by which pipeline action, as which stack?`,
      );
    }
  });

  it("builds each resource's ARN in the shape the Service Authorization Reference gives for its type", () => {
    assert.deepEqual(arnShapeProblems(resources, data), []);
  });

  it('allows every call their handlers list, on the ARN it acts on, but for the reasoned exclusions', () => {
    assert.deepEqual(missingPermissions(role, resources, data, exclusions), []);
  });

  for (const exclusion of exclusions) {
    it(`may leave out ${exclusion.type} ${exclusion.actions.join(', ')}: ${exclusion.why}`, () => {
      assert.deepEqual(exclusionProblems(exclusion, templates, data), []);
    });
  }

  it('names only real actions, and each read wildcard names at least one', () => {
    for (const statement of role) {
      for (const pattern of [...(statement.Action ?? []), ...(statement.NotAction ?? [])]) {
        assert.ok(expand(pattern).length > 0, `${pattern} matches no action of the Service Authorization Reference`);
      }
    }
  });
});

/**
 * Reads of what the services keep for the application and its people, not of their configuration: none of these may
 * be allowed on anything but the ARNs a handler needs ("ours": also on this service's own resources; "others": only
 * on resources of other applications in the account).
 */
const dataReads: { actions: string[]; forbidden: 'everywhere' | 'elsewhere'; foreign: string; why: string }[] = [
  {
    actions: ['secretsmanager:GetSecretValue'],
    forbidden: 'elsewhere',
    foreign: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:payroll/db-password-AbCdEf',
    why: "the secret handler's update reads the stacks' own secrets; no other secret",
  },
  {
    actions: ['secretsmanager:BatchGetSecretValue'],
    forbidden: 'everywhere',
    foreign: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:payroll/db-password-AbCdEf',
    why: 'secret values in bulk',
  },
  {
    actions: [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:PartiQLSelect',
      'dynamodb:GetRecords',
      'dynamodb:ExportTableToPointInTime',
    ],
    forbidden: 'everywhere',
    foreign: 'arn:aws:dynamodb:us-east-1:123456789012:table/payroll',
    why: "items, the streams' records and exports of them",
  },
  {
    actions: [
      'logs:GetLogEvents',
      'logs:FilterLogEvents',
      'logs:StartQuery',
      'logs:GetQueryResults',
      'logs:GetLogRecord',
      'logs:StartLiveTail',
    ],
    forbidden: 'everywhere',
    foreign: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/payroll',
    why: 'log events, which carry requests and their callers',
  },
  {
    actions: [
      'cognito-idp:AdminGetUser',
      'cognito-idp:ListUsers',
      'cognito-idp:ListUsersInGroup',
      'cognito-idp:AdminListGroupsForUser',
      'cognito-idp:AdminListDevices',
      'cognito-idp:AdminGetDevice',
      'cognito-idp:AdminListUserAuthEvents',
      'cognito-idp:DescribeIdentityProvider',
    ],
    forbidden: 'everywhere',
    foreign: 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Payroll01',
    why: "people's attributes, groups, devices and sign-ins; identity providers' client secrets",
  },
  {
    actions: ['sns:ListSubscriptions', 'sns:ListPhoneNumbersOptedOut', 'sns:ListEndpointsByPlatformApplication'],
    forbidden: 'everywhere',
    foreign: 'arn:aws:sns:us-east-1:123456789012:payroll-alerts',
    why: "subscribers' email addresses, phone numbers and device tokens",
  },
  {
    actions: [
      'ec2:DescribeInstanceAttribute',
      'ec2:DescribeLaunchTemplateVersions',
      'ec2:GetLaunchTemplateData',
      'ec2:GetPasswordData',
      'ec2:GetConsoleOutput',
      'ec2:GetConsoleScreenshot',
    ],
    forbidden: 'everywhere',
    foreign: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0',
    why: "instances' user data, passwords and consoles",
  },
  {
    actions: ['kms:Decrypt'],
    forbidden: 'everywhere',
    foreign: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
    why: 'anything a key protects',
  },
  {
    actions: ['s3:GetObject'],
    forbidden: 'everywhere',
    foreign: 'arn:aws:s3:::payroll-exports/2026/08.csv',
    why: 'objects',
  },
];

/** Where a role allows one of the data reads above, as sentences; none when nowhere. */
function dataReadProblems(statements: PlainStatement[], ours: StackResource[]): string[] {
  const problems: string[] = [];
  for (const read of dataReads) {
    for (const action of read.actions) {
      const prefix = action.split(':')[0] ?? '';
      const own = ours.flatMap((r) =>
        Object.entries(r.arns).flatMap(([type, arns]) => (type.startsWith(`${prefix}:`) ? arns : [])),
      );
      const where = ['*', read.foreign, ...(read.forbidden === 'everywhere' ? own : [])];
      for (const resource of new Set(where)) {
        const decision = evaluate(statements, { action, resource });
        if (decision.allowed) problems.push(`${action} on ${resource} (by ${decision.by}): ${read.why}`);
      }
    }
  }
  return problems;
}

describe('the CloudFormation execution role reads configuration, not data', () => {
  it('allows no data read anywhere, and secret values only of its own stacks', () => {
    assert.deepEqual(dataReadProblems(role, resources), []);
  });

  it('names data reads that exist, so that none of these checks passes for a misspelt action', () => {
    for (const action of dataReads.flatMap((read) => read.actions)) {
      assert.ok(resourceTypesOf(data, action), `${action} is not in the Service Authorization Reference`);
    }
  });

  it('grants reads with wildcards only as Describe* and List*, and no Get* wildcard (Get* holds data reads)', () => {
    const wildcards = role
      .flatMap((s) => (s.Effect === 'Allow' ? (s.Action ?? []) : []))
      .filter((a) => a.includes('*'));
    assert.ok(wildcards.length > 0);
    for (const pattern of wildcards) assert.match(pattern, /^[a-z0-9-]+:(Describe|List)\*$/, pattern);
    // Which reads those wildcards grant, counted, so that a wider one shows in review.
    const granted = wildcards.flatMap(expand).filter((a) => evaluate(role, { action: a, resource: '*' }).allowed);
    assert.ok(granted.length > 100, `${granted.length} reads`);
  });
});

describe('the checks are not rubber stamps', () => {
  const without = (action: string) =>
    plainStatements(
      roleStatements().map((s) => ({ ...s, Action: [s.Action ?? []].flat().filter((a) => a !== action) })),
      place,
    ).filter((s) => (s.Action ?? []).length > 0 || s.NotAction);
  const missing = (statements: PlainStatement[]) => missingPermissions(statements, resources, data, exclusions);

  it('a role without ecs:StopServiceDeployment fails, naming the deployment it cannot stop', () => {
    const problems = missing(without('ecs:StopServiceDeployment'));
    assert.ok(problems.length > 0);
    assert.ok(
      problems.every((p) => p.startsWith('ecs:StopServiceDeployment on arn:aws:ecs:us-east-1:123456789012:service')),
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => p.includes(':service-deployment/product-service-prod-Cluster-')));
  });

  it('a role without a read wildcard fails on the reads it covered', () => {
    const problems = missing(without('logs:Describe*'));
    assert.ok(
      problems.some((p) => p.startsWith('logs:DescribeIndexPolicies on *: not allowed')),
      problems.join('\n'),
    );
  });

  it('a scoped grant on the wrong ARN fails: tagging another dashboard is not tagging ours', () => {
    const statements = roleStatements().map((s) =>
      s.Sid === 'Dashboards'
        ? { ...s, Resource: sub('arn:${AWS::Partition}:cloudwatch::${AWS::AccountId}:dashboard/other-app-*') }
        : s,
    );
    const problems = missing(plainStatements(statements, place));
    assert.ok(
      problems.includes(
        'cloudwatch:TagResource on arn:aws:cloudwatch::123456789012:dashboard/product-service-dev: not allowed (AWS::CloudWatch::Dashboard create)',
      ),
      problems.join('\n'),
    );
  });

  it('a grant in the wrong region or on the wrong service fails too', () => {
    const statements = roleStatements().map((s) =>
      s.Sid === 'EcsTaskDefinitionTags'
        ? {
            ...s,
            Resource: sub('arn:${AWS::Partition}:ecs:eu-west-1:${AWS::AccountId}:task-definition/product-service-*'),
          }
        : s,
    );
    assert.ok(
      missing(plainStatements(statements, place)).some((p) => p.startsWith('ecs:TagResource on arn:aws:ecs:us-east-1')),
    );
  });

  it('a condition the call does not meet fails: passing the task role to another service', () => {
    const statements = roleStatements().map((s) =>
      s.Sid === 'PassTaskRoles'
        ? { ...s, Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } }
        : s,
    );
    assert.ok(
      missing(plainStatements(statements, place)).some((p) =>
        p.includes('iam:PassRole on arn:aws:iam::123456789012:role/product-service-dev-TaskRole-'),
      ),
    );
  });

  it('an explicit Deny wins over every Allow, and is named', () => {
    const statements = [
      ...roleStatements(),
      { Sid: 'NoTags', Effect: 'Deny', Action: 'cloudwatch:TagResource', Resource: '*' },
    ];
    assert.ok(
      missing(plainStatements(statements, place)).some((p) =>
        p.endsWith('denied by NoTags (AWS::CloudWatch::Alarm create)'),
      ),
    );
  });

  it('a broad read that reaches data fails: dynamodb:Get*, cognito-idp:List*, secretsmanager:* on every secret', () => {
    for (const [action, caught] of [
      ['dynamodb:Get*', 'dynamodb:GetItem on *'],
      ['cognito-idp:List*', 'cognito-idp:ListUsers on *'],
      [
        'secretsmanager:*',
        'secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:payroll/',
      ],
    ] as const) {
      const statements = [...role, { Effect: 'Allow' as const, Action: [action], Resource: ['*'] }];
      assert.ok(
        dataReadProblems(statements, resources).some((p) => p.startsWith(caught)),
        action,
      );
    }
    // And the role's own Deny is what keeps ec2:Describe* from instances' user data.
    const withoutDeny = role.filter((s) => s.Effect !== 'Deny');
    assert.ok(dataReadProblems(withoutDeny, resources).some((p) => p.startsWith('ec2:DescribeInstanceAttribute on *')));
  });

  it('an exclusion stops holding when a template sets the property it serves', () => {
    const service = structuredClone(templates.get('infra/service.template.yml') ?? assert.fail('no service template'));
    const table = service.Resources['ProductsTable'] ?? assert.fail('no ProductsTable');
    table.Properties['SSESpecification'] = {
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: 'alias/product-service',
    };
    const listener = service.Resources['HttpListener'] ?? assert.fail('no HttpListener');
    listener.Properties['DefaultActions'] = { 'Fn::If': ['HasCertificate', [{ Type: 'authenticate-cognito' }], []] };
    const mutated = new Map(templates).set('infra/service.template.yml', service);
    const problems = exclusions.flatMap((e) => exclusionProblems(e, mutated, data));
    assert.ok(
      problems.some((p) => p.endsWith('ProductsTable sets SSESpecification.KMSMasterKeyId')),
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => p.endsWith('HttpListener sets DefaultActions.Type to authenticate-cognito')));
  });

  it('a stale exclusion, or a call that moves to another handler, is caught', () => {
    const stale: Exclusion = {
      type: 'AWS::ECS::Cluster',
      actions: ['ecs:NoSuchCall'],
      when: { onlyIn: ['update'] },
      why: '',
    };
    assert.deepEqual(exclusionProblems(stale, templates, data), [
      'AWS::ECS::Cluster ecs:NoSuchCall: no handler lists it (a stale exclusion)',
      'AWS::ECS::Cluster ecs:NoSuchCall: listed by no handler, not only update',
    ]);
    const moved: Exclusion = { ...stale, actions: ['ecs:PutAccountSetting'], when: { onlyIn: ['create'] } };
    assert.equal(exclusionProblems(moved, templates, data).length, 1);
  });

  it('a resource type the data does not cover fails until the data is refreshed', () => {
    const stray: StackResource = { ...(resources[0] ?? assert.fail('no resource')), type: 'AWS::SQS::Queue' };
    assert.ok(missing(role).length === 0 && missingPermissions(role, [stray], data, exclusions).length === 1);
  });

  it('an ARN of the wrong shape is caught (a dashboard with a region)', () => {
    const dashboard = resources.find((r) => r.type === 'AWS::CloudWatch::Dashboard') ?? assert.fail('no dashboard');
    const wrong = {
      ...dashboard,
      arns: { 'cloudwatch:dashboard': ['arn:aws:cloudwatch:us-east-1:123456789012:dashboard/x'] },
    };
    assert.equal(arnShapeProblems([wrong], data).length, 1);
  });
});

describe('the policy evaluator (IAM User Guide, "Policy evaluation logic")', () => {
  const allow = (extra: Partial<PlainStatement>): PlainStatement => ({
    Effect: 'Allow',
    Action: ['ecs:Describe*'],
    Resource: ['*'],
    ...extra,
  });
  it('matches actions without case and with wildcards, resources with case', () => {
    assert.equal(evaluate([allow({})], { action: 'ECS:describeservices', resource: '*' }).allowed, true);
    assert.equal(evaluate([allow({})], { action: 'ecs:ListServices', resource: '*' }).allowed, false);
    const scoped = allow({ Resource: ['arn:aws:ecs:us-east-1:1:service/product-service-*'] });
    assert.equal(
      evaluate([scoped], {
        action: 'ecs:DescribeServices',
        resource: 'arn:aws:ecs:us-east-1:1:service/product-service-dev/x',
      }).allowed,
      true,
    );
    assert.equal(
      evaluate([scoped], {
        action: 'ecs:DescribeServices',
        resource: 'arn:aws:ecs:us-east-1:1:service/Product-service-dev',
      }).allowed,
      false,
    );
    // An action without resource-level permissions is authorised on '*': a scoped statement does not reach it.
    assert.equal(evaluate([scoped], { action: 'ecs:DescribeServices', resource: '*' }).allowed, false);
  });
  it('reads NotAction and NotResource as everything but', () => {
    const notAction: PlainStatement = { Effect: 'Allow', NotAction: ['iam:*'], Resource: ['*'] };
    assert.equal(evaluate([notAction], { action: 'ecs:CreateService', resource: 'arn:x' }).allowed, true);
    assert.equal(evaluate([notAction], { action: 'iam:PassRole', resource: 'arn:x' }).allowed, false);
    const notResource: PlainStatement = { Effect: 'Deny', Action: ['*'], NotResource: ['arn:aws:s3:::mine/*'] };
    const decision = evaluate([allow({ Action: ['s3:GetObject'] }), notResource], {
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::theirs/a',
    });
    assert.deepEqual(decision, { allowed: false, why: 'explicit deny', by: 'statement 1' });
  });
  it('treats a missing condition key as false for positive operators, true for negated ones and IfExists', () => {
    const when = (Condition: NonNullable<PlainStatement['Condition']>) => allow({ Condition });
    const request = { action: 'ecs:DescribeServices', resource: '*' };
    assert.equal(
      evaluate([when({ StringEquals: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com'] } })], request).allowed,
      false,
    );
    assert.equal(evaluate([when({ StringNotEquals: { 'iam:PassedToService': ['x'] } })], request).allowed, true);
    assert.equal(evaluate([when({ StringEqualsIfExists: { 'iam:PassedToService': ['x'] } })], request).allowed, true);
    assert.equal(
      evaluate([when({ ArnLike: { 'iam:PolicyARN': ['arn:aws:iam::aws:policy/service-role/*'] } })], {
        ...request,
        context: { 'iam:PolicyArn': 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy' },
      }).allowed,
      true,
    );
  });
  it('refuses what it does not evaluate rather than guessing', () => {
    const request = { action: 'ecs:DescribeServices', resource: '*', context: { 'aws:TagKeys': 'a' } };
    assert.throws(
      () => evaluate([allow({ Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a'] } } })], request),
      /multi-valued/,
    );
    assert.throws(
      () => evaluate([allow({ Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': ['1'] } } })], request),
      /NumericLessThan/,
    );
    assert.throws(
      () => evaluate([allow({ Condition: { StringEquals: { 'aws:username': ['${aws:username}'] } } })], request),
      /variables/,
    );
  });
});

/** Every action of the Service Authorization Reference that an action pattern matches. */
function expand(pattern: string): string[] {
  const [prefix = '', name = ''] = pattern.toLowerCase().split(':');
  const matcher = wildcard(name, 'i');
  return Object.entries(data.actions)
    .filter(([service]) => prefix === '*' || service === prefix)
    .flatMap(([service, actions]) =>
      Object.keys(actions)
        .filter((a) => matcher.test(a))
        .map((a) => `${service}:${a}`),
    );
}

/** ARNs that do not fit the Service Authorization Reference's format for their resource type. */
function arnShapeProblems(list: StackResource[], permissions: HandlerPermissions): string[] {
  const problems = new Set<string>();
  for (const resource of list) {
    for (const [qualified, arns] of Object.entries(resource.arns)) {
      const [prefix = '', type = ''] = qualified.split(/:(.*)/);
      const formats = permissions.arnFormats[prefix]?.[type];
      if (!formats) {
        problems.add(`${qualified}: no ARN format in the Service Authorization Reference`);
        continue;
      }
      const patterns = formats.map(
        (f) =>
          new RegExp(
            `^${f.replaceAll('${Partition}', place.partition).replaceAll('${Region}', place.region).replaceAll('${Account}', place.account)}$`,
          ),
      );
      for (const arn of arns) {
        if (!patterns.some((p) => p.test(arn)))
          problems.add(`${resource.logicalId} ${qualified}: ${arn} is not ${formats.join(' or ')}`);
      }
    }
  }
  return [...problems];
}
