import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegoEngine, TemplateFile, type Engine } from '@aws/cloudformation-validate';
import { parse, type Tags } from 'yaml';
import { loadConfig } from '../src/config.js';
import { localRedirectUris } from '../src/local/web-client.js';
import { adminGroup } from '../src/products/routes.js';
import { productsTableKeys, snapshotsTableKeys } from '../src/products/tables.js';

type Node = Record<string, unknown>;

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

function load(path: string): { Resources: Record<string, { Type: string; Properties: Node }>; Outputs: Node } {
  return parse(readFileSync(path, 'utf8'), { customTags: intrinsics }) as ReturnType<typeof load>;
}

function one(template: ReturnType<typeof load>, type: string): { Type: string; Properties: Node } {
  const [resource, ...others] = resourcesOf(template, type);
  assert.ok(resource, `no ${type}`);
  assert.equal(others.length, 0, `more than one ${type}`);
  return resource;
}

function resourcesOf(template: ReturnType<typeof load>, type: string) {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

describe('CloudFormation templates', () => {
  let engine: Engine;
  before(() => {
    engine = new RegoEngine();
  });
  after(() => engine.free());

  for (const path of ['infra/cognito.template.yml', 'infra/service.template.yml']) {
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

    it('has a machine client with a secret, the client_credentials flow and both scopes, and a domain', () => {
      const machine = clients.filter((client) => flowsOf(client).includes('client_credentials'));
      const [client, ...others] = machine;
      assert.ok(client && others.length === 0, 'one machine client');
      assert.equal(client.Properties['GenerateSecret'], true);
      assert.deepEqual(flowsOf(client), ['client_credentials']);
      assert.deepEqual(client.Properties['AllowedOAuthScopes'], ['products/read', 'products/write']);
      assert.equal(resourcesOf(template, 'AWS::Cognito::UserPoolDomain').length, 1);
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

    it('exports UserPool::Id, both client ids and the token URL', () => {
      const exports = Object.values(template.Outputs).flatMap(
        (o) => (o as { Export?: { Name: string } }).Export?.Name ?? [],
      );
      assert.deepEqual(exports.sort(), [
        'UserPool::Id',
        'UserPool::TokenUrl',
        'UserPoolClient::Id',
        'UserPoolWebClient::Id',
      ]);
    });
  });

  describe('service.template.yml', () => {
    const template = load('infra/service.template.yml');
    const taskDefinition = one(template, 'AWS::ECS::TaskDefinition');
    const container = (taskDefinition.Properties['ContainerDefinitions'] as Node[])[0] ?? {};
    const environment = Object.fromEntries(
      (container['Environment'] as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );

    it('runs the container ProductService on Fargate, port 3000, with USER_POOL_ID imported from the Cognito stack', () => {
      assert.equal(container['Name'], 'ProductService');
      assert.deepEqual(taskDefinition.Properties['RequiresCompatibilities'], ['FARGATE']);
      assert.deepEqual((container['PortMappings'] as Node[])[0]?.['ContainerPort'], 3000);
      assert.deepEqual(environment['USER_POOL_ID'], { 'Fn::ImportValue': 'UserPool::Id' });
      // Both app clients of the user pool, machines' and people's, and no other.
      assert.deepEqual(environment['ALLOWED_CLIENT_IDS'], {
        'Fn::Join': [
          ',',
          [{ 'Fn::ImportValue': 'UserPoolClient::Id' }, { 'Fn::ImportValue': 'UserPoolWebClient::Id' }],
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
      assert.equal(service.Properties['DesiredCount'], 2);
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

    it('grants the task no wildcard action and no wildcard resource', () => {
      for (const role of resourcesOf(template, 'AWS::IAM::Role')) {
        for (const policy of (role.Properties['Policies'] as { PolicyDocument: { Statement: Node[] } }[] | undefined) ??
          []) {
          for (const statement of policy.PolicyDocument.Statement) {
            const actions = [statement['Action']].flat() as string[];
            assert.ok(
              actions.every((a) => !a.includes('*')),
              `wildcard action in ${JSON.stringify(actions)}`,
            );
            assert.notEqual(statement['Resource'], '*');
          }
        }
      }
    });

    it('grants exactly the DynamoDB and SNS actions the code uses', () => {
      const code = readFileSync('src/products/repository.ts', 'utf8') + readFileSync('src/products/events.ts', 'utf8');
      const used = new Set(
        [...code.matchAll(/new (Get|Put|Update|Scan|Query|Publish)Command\(/g)].map(([, op]) =>
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
