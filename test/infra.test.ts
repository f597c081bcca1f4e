import assert from 'node:assert/strict';
import { globSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegoEngine, TemplateFile, type Engine } from '@aws/cloudformation-validate';
import { loadConfig } from '../src/config.js';
import { localRedirectUris } from '../src/local/web-client.js';
import { adminGroup } from '../src/products/routes.js';
import { productsTableKeys, snapshotsTableKeys } from '../src/products/tables.js';
import {
  actionsOf,
  deployed,
  loadTemplate as load,
  one,
  resourcesOf,
  statementsOf,
  type Node,
  type Statement,
} from './support/cloudformation.js';

/** Every template in infra/: a new one is validated and checked for wildcards without being listed here. */
const templatePaths = readdirSync('infra')
  .filter((name) => name.endsWith('.template.yml'))
  .sort()
  .map((name) => `infra/${name}`);

/** Bytes, not characters: CloudFormation counts the UTF-8 body (a template's "…" and "→" are 3 bytes each). */
function templateSizeProblems(name: string, body: Buffer): string[] {
  const limit = 51_200;
  return body.length <= limit
    ? []
    : [`${name} is ${body.length} bytes: over the 51,200 CloudFormation takes in a request body`];
}

describe('CloudFormation templates', () => {
  let engine: Engine;
  before(() => {
    engine = new RegoEngine();
  });
  after(() => engine.free());

  it('finds the Cognito, dashboard, pipeline and service templates', () => {
    assert.deepEqual(templatePaths, [
      'infra/cognito.template.yml',
      'infra/dashboard.template.yml',
      'infra/pipeline.template.yml',
      'infra/service.template.yml',
    ]);
  });

  // Every template travels in a request body on at least one documented path, so each must fit the smallest limit:
  // - by hand (docs/deploy.md, "Deploy by hand", which the by-hand rollback reuses, and the pipeline's bootstrap):
  //   `aws cloudformation deploy` without --s3-bucket sends the template as TemplateBody, at most 51,200 bytes
  //   ("Template body size in a request", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html);
  //   the CLI refuses a larger one before calling AWS (DeployBucketRequiredError, aws-cli
  //   awscli/customizations/cloudformation/exceptions.py);
  // - the pipeline's CloudFormation action (and a stage rollback, which re-runs it) reads the template from the
  //   source artifact in S3, where the limit is 1 MB ("Template body size in an Amazon S3 object", same page); no
  //   AWS page states the action's own limit, so the smaller one holds for it too.
  // A template near the limit splits along a seam, as the dashboard did (infra/dashboard.template.yml).
  for (const path of templatePaths) {
    it(`${path} fits in a request body (at most 51,200 bytes), so every documented deploy path takes it`, () => {
      assert.deepEqual(templateSizeProblems(path, readFileSync(path)), []);
    });
  }

  it('the size check is no rubber stamp: the service template with its dashboard put back is refused', () => {
    const whole = Buffer.concat([
      readFileSync('infra/service.template.yml'),
      readFileSync('infra/dashboard.template.yml'),
    ]);
    assert.deepEqual(templateSizeProblems('service+dashboard', whole), [
      `service+dashboard is ${whole.length} bytes: over the 51,200 CloudFormation takes in a request body`,
    ]);
    assert.deepEqual(templateSizeProblems('at the limit', Buffer.alloc(51_200)), []);
    assert.equal(templateSizeProblems('one over', Buffer.alloc(51_201)).length, 1);
  });

  for (const path of templatePaths) {
    it(`${path} passes AWS's offline validator (@aws/cloudformation-validate) with nothing above INFO`, () => {
      const report = engine.validateStandard(new TemplateFile(path));
      const findings = report.diagnostics
        .filter((d) => d.severity !== 'INFO' && d.severity !== 'DEBUG')
        .map((d) => `[${d.severity}] ${d.ruleId}: ${d.message}`);
      assert.deepEqual(findings, []);
    });
  }

  it('the validator is not a rubber stamp: it catches a broken template', () => {
    const broken = 'test-results/broken.template.yml';
    const text = readFileSync('infra/service.template.yml', 'utf8')
      .replace('KeySchema:', 'KeySchemaa:')
      .replace('HealthCheckPath: /hello', 'HealthCheckPath: !Ref NoSuchParameter');
    writeTemp(broken, text);
    const severities = engine.validateStandard(new TemplateFile(broken)).diagnostics.map((d) => d.severity);
    assert.ok(severities.some((s) => s === 'ERROR' || s === 'FATAL'));
  });

  describe('cognito.template.yml', () => {
    const template = load('infra/cognito.template.yml');

    it('defines the resource server "products" with the scopes read and write', () => {
      const server = one(template, 'AWS::Cognito::UserPoolResourceServer');
      assert.equal(server.Properties['Identifier'], 'products');
      assert.deepEqual(
        (server.Properties['Scopes'] as { ScopeName: string }[]).map((s) => s.ScopeName),
        ['read', 'write'],
      );
    });

    const clients = resourcesOf(template, 'AWS::Cognito::UserPoolClient');
    const flowsOf = (client: { Properties: Node }) => client.Properties['AllowedOAuthFlows'] as string[];

    it("has machine clients, the callers' and the smoke test's, each with a secret, client_credentials and both scopes", () => {
      const machine = clients.filter((client) => flowsOf(client).includes('client_credentials'));
      assert.deepEqual(machine.map((client) => client.Properties['ClientName']).sort(), [
        'product-service-client',
        'product-service-smoke',
      ]);
      for (const client of machine) {
        assert.equal(client.Properties['GenerateSecret'], true);
        assert.deepEqual(flowsOf(client), ['client_credentials']);
        assert.deepEqual(client.Properties['AllowedOAuthScopes'], ['products/read', 'products/write']);
      }
      assert.equal(resourcesOf(template, 'AWS::Cognito::UserPoolDomain').length, 1);
    });

    it("keeps the smoke client's id and secret in Secrets Manager, written by the template, readable by the smoke build only", () => {
      const secret = template.Resources['SmokeClientSecret'];
      assert.equal(secret?.Type, 'AWS::SecretsManager::Secret');
      assert.deepEqual(secret.Properties['SecretString'], {
        'Fn::Sub': '{"client_id":"${SmokeClient}","client_secret":"${SmokeClient.ClientSecret}"}',
      });
      assert.deepEqual(secret.Properties['Name'], { 'Fn::Sub': 'product-service-${EnvironmentName}/smoke-client' });
      const policy = one(template, 'AWS::SecretsManager::ResourcePolicy');
      assert.deepEqual(policy.Properties['SecretId'], { Ref: 'SmokeClientSecret' });
      const [deny, ...others] = (policy.Properties['ResourcePolicy'] as { Statement: Node[] }).Statement;
      assert.ok(deny && others.length === 0, 'one statement');
      assert.equal(deny['Effect'], 'Deny');
      assert.equal(deny['Action'], 'secretsmanager:GetSecretValue');
      // The smoke build reads it; so does CloudFormation's execution role, whose update of the secret reads it first.
      assert.deepEqual(deny['Condition'], {
        StringNotEquals: {
          'aws:PrincipalArn': [
            { Ref: 'SmokeReaderRoleArn' },
            { 'Fn::If': ['HasDeployer', { Ref: 'DeployerRoleArn' }, { Ref: 'SmokeReaderRoleArn' }] },
          ],
        },
      });
    });

    it("has a public client for people: code flow only, no secret, back to the docs page's redirect", () => {
      const people = clients.filter((client) => flowsOf(client).includes('code'));
      const [client, ...others] = people;
      assert.ok(client && others.length === 0, 'one client for people');
      assert.equal(client.Properties['GenerateSecret'], false);
      assert.deepEqual(flowsOf(client), ['code'], 'no implicit grant (RFC 9700 §2.1.2)');
      assert.deepEqual(client.Properties['AllowedOAuthScopes'], ['openid', 'email', 'products/read', 'products/write']);
      // The page the docs page's Swagger UI returns to: the same path the local web client is registered with.
      const [localRedirect = ''] = localRedirectUris(loadConfig({}));
      const path = new URL(localRedirect).pathname;
      assert.deepEqual(client.Properties['CallbackURLs'], [{ 'Fn::Sub': `\${ServiceUrl}${path}` }]);
      assert.deepEqual(client.Properties['LogoutURLs'], [{ 'Fn::Sub': `\${ServiceUrl}${path}` }]);
    });

    it('defines the group a person must be in to change products, by the name the route policy uses', () => {
      assert.equal(one(template, 'AWS::Cognito::UserPoolGroup').Properties['GroupName'], adminGroup);
    });

    it("exports UserPool::Id, the three client ids and the token URL under the environment's name", () => {
      const exports = Object.values(template.Outputs).flatMap(
        (o) => (o as { Export?: { Name: unknown } }).Export?.Name ?? [],
      );
      assert.deepEqual(
        exports,
        [
          'UserPool::Id',
          'UserPoolClient::Id',
          'UserPoolWebClient::Id',
          'UserPool::TokenUrl',
          'UserPoolSmokeClient::Id',
        ].map((name) => ({ 'Fn::Sub': `product-service-\${EnvironmentName}:${name}` })),
      );
    });
  });

  describe('service.template.yml', () => {
    // As deployed with the defaults (Telemetry=off); the telemetry tests below deploy it with Telemetry=on.
    const template = deployed(load('infra/service.template.yml'));
    const taskDefinition = one(template, 'AWS::ECS::TaskDefinition');
    const container = (taskDefinition.Properties['ContainerDefinitions'] as Node[])[0] ?? {};
    const environment = Object.fromEntries(
      (container['Environment'] as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );

    // The Cognito stack of the same environment: dev's service never trusts prod's user pool, nor the reverse.
    const imported = (name: string) => ({
      'Fn::ImportValue': { 'Fn::Sub': `product-service-\${EnvironmentName}:${name}` },
    });

    it('runs the container ProductService on Fargate, port 3000, with USER_POOL_ID imported from the Cognito stack', () => {
      assert.equal(container['Name'], 'ProductService');
      assert.deepEqual(taskDefinition.Properties['RequiresCompatibilities'], ['FARGATE']);
      assert.deepEqual((container['PortMappings'] as Node[])[0]?.['ContainerPort'], 3000);
      assert.deepEqual(environment['USER_POOL_ID'], imported('UserPool::Id'));
      assert.deepEqual(environment['OAUTH_TOKEN_URL'], imported('UserPool::TokenUrl'));
      // The app clients of the user pool, machines', people's and the smoke test's, and no other.
      assert.deepEqual(environment['ALLOWED_CLIENT_IDS'], {
        'Fn::Join': [
          ',',
          [imported('UserPoolClient::Id'), imported('UserPoolWebClient::Id'), imported('UserPoolSmokeClient::Id')],
        ],
      });
      assert.deepEqual(environment['PRODUCTS_TABLE_NAME'], { Ref: 'ProductsTable' });
      assert.deepEqual(environment['PRODUCTS_SNAPSHOT_TABLE_NAME'], { Ref: 'ProductSnapshotsTable' });
      assert.deepEqual(environment['PRODUCT_EVENTS_TOPIC_ARN'], { Ref: 'ProductEventsTopic' });
      assert.equal((container['LogConfiguration'] as Node)['LogDriver'], 'awslogs');
    });

    it('puts the service behind a load balancer whose health check is GET /hello on port 3000', () => {
      const group = one(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      assert.equal(group.Properties['HealthCheckPath'], '/hello');
      assert.equal(group.Properties['Port'], 3000);
      const service = one(template, 'AWS::ECS::Service');
      assert.deepEqual(service.Properties['DesiredCount'], { Ref: 'DesiredCount' });
      const target = one(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
      assert.deepEqual(
        [target.Properties['MinCapacity'], target.Properties['MaxCapacity']],
        [{ Ref: 'MinCapacity' }, { Ref: 'MaxCapacity' }],
      );
      assert.deepEqual((service.Properties['LoadBalancers'] as Node[])[0]?.['ContainerPort'], 3000);
      const policy = one(template, 'AWS::ApplicationAutoScaling::ScalingPolicy');
      const tracking = policy.Properties['TargetTrackingScalingPolicyConfiguration'] as Node;
      assert.equal(
        (tracking['PredefinedMetricSpecification'] as Node)['PredefinedMetricType'],
        'ECSServiceAverageCPUUtilization',
      );
    });

    it("keeps idle connections open longer than the load balancer does, and drains within the task's StopTimeout", () => {
      const defaults = loadConfig({}).http;
      const balancer = one(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      const attributes = balancer.Properties['LoadBalancerAttributes'] as { Key: string; Value: string }[];
      const idleSeconds = Number(attributes.find((a) => a.Key === 'idle_timeout.timeout_seconds')?.Value);
      assert.ok(idleSeconds > 0, 'the idle timeout is set on purpose');
      // A keep-alive timeout shorter than the balancer's idle timeout is the known cause of sporadic 502s.
      assert.ok(
        defaults.keepAliveTimeoutMs > idleSeconds * 1000,
        `${defaults.keepAliveTimeoutMs} ms vs ${idleSeconds} s`,
      );
      const task = one(template, 'AWS::ECS::TaskDefinition');
      const container = (task.Properties['ContainerDefinitions'] as Node[])[0] ?? {};
      const stopSeconds = Number(container['StopTimeout']);
      assert.ok(defaults.shutdownTimeoutMs + 5_000 <= stopSeconds * 1000, 'room to close the store after draining');
    });

    it("grants the task no wildcard action, and a wildcard resource only for X-Ray's PutTraceSegments, which has no other", () => {
      const withTelemetry = deployed(load('infra/service.template.yml'), { Telemetry: 'on' });
      const policies = resourcesOf(withTelemetry, 'AWS::IAM::Policy').map(
        (policy) => policy.Properties['PolicyDocument'] as { Statement: Statement[] },
      );
      assert.equal(policies.length, 1);
      const statements = [
        ...resourcesOf(withTelemetry, 'AWS::IAM::Role').flatMap(statementsOf),
        ...policies.flatMap((document) => document.Statement),
      ];
      for (const statement of statements) {
        const actions = actionsOf(statement);
        assert.ok(
          actions.every((a) => !a.includes('*')),
          `wildcard action in ${JSON.stringify(actions)}`,
        );
        if (statement.Resource === '*') assert.deepEqual(actions, ['xray:PutTraceSegments']);
      }
    });

    it('grants exactly the DynamoDB and SNS actions the code uses', () => {
      const code = [...globSync('src/products/store/*.ts'), 'src/products/events.ts']
        .map((file) => readFileSync(file, 'utf8'))
        .join('\n');
      const used = new Set(
        [...code.matchAll(/new (Get|Put|Update|Scan|Query|Publish)(?:Item)?Command\(/g)].map(([, op]) =>
          op === 'Publish'
            ? 'sns:Publish'
            : `dynamodb:${String(op)}Item`.replace('ScanItem', 'Scan').replace('QueryItem', 'Query'),
        ),
      );
      const [taskRole] = Object.entries(template.Resources).filter(([name]) => name === 'TaskRole');
      const statements = (taskRole?.[1].Properties['Policies'] as { PolicyDocument: { Statement: Node[] } }[])[0]
        ?.PolicyDocument.Statement;
      const granted = new Set(statements?.flatMap((s) => [s['Action']].flat() as string[]));
      assert.deepEqual([...granted].sort(), [...used].sort());
    });

    describe('Telemetry (the OpenTelemetry collector sidecar)', () => {
      const raw = load('infra/service.template.yml');
      const on = deployed(raw, { Telemetry: 'on' });
      const containersOf = (t: typeof raw) =>
        one(t, 'AWS::ECS::TaskDefinition').Properties['ContainerDefinitions'] as Node[];
      const environmentOf = (container: Node | undefined) =>
        Object.fromEntries(
          ((container?.['Environment'] ?? []) as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
        );
      const otel = (t: typeof raw) =>
        Object.keys(environmentOf(containersOf(t)[0])).filter((name) => name.startsWith('OTEL_'));

      it('is off by default: one container, no OTEL_* variables, no telemetry policy or log group, 512 MiB', () => {
        const { Type, Default, AllowedValues } = raw.Parameters['Telemetry'] ?? { Type: '' };
        assert.deepEqual([Type, Default, AllowedValues], ['String', 'off', ['off', 'on']]);
        assert.deepEqual(
          containersOf(template).map((c) => c['Name']),
          ['ProductService'],
        );
        assert.deepEqual(otel(template), []);
        assert.equal(containersOf(template)[0]?.['DependsOn'], undefined);
        assert.deepEqual(resourcesOf(template, 'AWS::IAM::Policy'), []);
        assert.equal(template.Resources['TelemetryLogGroup'], undefined);
        assert.deepEqual([taskDefinition.Properties['Cpu'], taskDefinition.Properties['Memory']], ['256', '512']);
      });

      it('on, runs the ADOT collector beside the service: pinned, not essential, started first, with a share of a valid Fargate size', () => {
        const [app, collector, ...others] = containersOf(on);
        assert.equal(others.length, 0);
        assert.equal(app?.['Name'], 'ProductService');
        assert.equal(collector?.['Name'], 'otel-collector');
        assert.match(
          String(collector['Image']),
          /^public\.ecr\.aws\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+$/,
        );
        assert.equal(collector['Essential'], false, 'telemetry never stops a task');
        assert.deepEqual(app['DependsOn'], [{ ContainerName: 'otel-collector', Condition: 'START' }]);
        assert.deepEqual(Object.keys(environmentOf(collector)), ['AOT_CONFIG_CONTENT']);
        assert.equal((collector['LogConfiguration'] as Node)['LogDriver'], 'awslogs');
        // Fargate's sizes for 256 CPU units: 512, 1024 or 2048 MiB; the collector's hard limit must fit beside the app.
        const task = one(on, 'AWS::ECS::TaskDefinition').Properties;
        assert.equal(task['Cpu'], '256');
        assert.ok(['512', '1024', '2048'].includes(String(task['Memory'])));
        assert.ok(Number(task['Memory']) - Number(collector['Memory']) >= 512, 'the service keeps its 512 MiB');
        assert.ok(Number(collector['Cpu']) < 256);
      });

      it('on, points the service at the collector with the standard OTEL_* variables, sampling TraceSampleRatio of new traces', () => {
        const environment = environmentOf(containersOf(on)[0]);
        assert.deepEqual(Object.fromEntries(otel(on).map((name) => [name, environment[name]])), {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_SERVICE_NAME: 'product-service',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: { Ref: 'TraceSampleRatio' },
          OTEL_METRIC_EXPORT_INTERVAL: '30000',
          OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
          OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
        });
        const ratio = new RegExp(String(raw.Parameters['TraceSampleRatio']?.AllowedPattern));
        for (const good of ['0', '0.05', '1', '1.0']) assert.match(good, ratio);
        for (const bad of ['5%', '1.5', '-0.1', '']) assert.doesNotMatch(bad, ratio);
      });

      it("on, lets the task role write its metrics' log group and send X-Ray segments, and nothing more", () => {
        const policy = raw.Resources['TelemetryPolicy'];
        assert.equal(policy?.Type, 'AWS::IAM::Policy');
        assert.equal(policy.Condition, 'TelemetryOn');
        assert.deepEqual(policy.Properties['Roles'], [{ Ref: 'TaskRole' }]);
        assert.deepEqual((policy.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement, [
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': ['TelemetryLogGroup', 'Arn'] },
          },
          { Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: '*' },
        ]);
        const group = raw.Resources['TelemetryLogGroup'];
        assert.equal(group?.Condition, 'TelemetryOn');
        // The pipeline's execution role manages log groups named /ecs/product-service-* only.
        assert.deepEqual(group.Properties['LogGroupName'], { 'Fn::Sub': '/ecs/${AWS::StackName}/metrics' });
        // The service's own grants stay as they were, in the role.
        assert.deepEqual(
          statementsOf(on.Resources['TaskRole'] ?? { Type: '', Properties: {} }),
          statementsOf(template.Resources['TaskRole'] ?? { Type: '', Properties: {} }),
        );
      });
    });

    it('declares the same table keys as the embedded DynamoDB creates (src/products/tables.ts)', () => {
      const tables = template.Resources;
      for (const [name, keys] of [
        ['ProductsTable', productsTableKeys],
        ['ProductSnapshotsTable', snapshotsTableKeys],
      ] as const) {
        const table = tables[name];
        assert.ok(table, name);
        assert.deepEqual(table.Properties['KeySchema'], keys.keySchema, name);
        assert.deepEqual(table.Properties['AttributeDefinitions'], keys.attributeDefinitions, name);
        assert.deepEqual(table.Properties['GlobalSecondaryIndexes'], keys.globalSecondaryIndexes, name);
        assert.equal(table.Properties['BillingMode'], 'PAY_PER_REQUEST');
        assert.deepEqual(table.Properties['PointInTimeRecoverySpecification'], {
          PointInTimeRecoveryEnabled: true,
        });
      }
    });
  });
});

function writeTemp(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
