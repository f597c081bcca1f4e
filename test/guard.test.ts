import assert from 'node:assert/strict';
import { globSync, mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RegoEngine, RuleFile, TemplateFile, type Engine } from '@aws/cloudformation-validate';

// The house rules for every template in infra/ (a template added there is covered by the glob), run in-process by
// AWS's validator: CloudFormation Guard where its Guard translation can express the rule, Rego where it cannot
// (each .rego file says why).
const guardFiles = globSync('infra/guard/*.guard').sort();
const regoFiles = globSync('infra/guard/*.rego').sort();
const templates = globSync('infra/*.template.yml').sort();

describe('house rules (infra/guard/)', () => {
  let engine: Engine;
  before(() => {
    engine = new RegoEngine({
      guardRules: guardFiles.map((path) => new RuleFile(path)),
      customRules: regoFiles.map((path) => new RuleFile(path)),
    });
  });
  after(() => engine.free());

  /** The house rules a template breaks, by name; the built-in rules are infra.test.ts's business. */
  function broken(path: string): string[] {
    const report = engine.validateStandard(new TemplateFile(path), { disableBuiltinRules: true });
    assert.equal(report.status, 'OK', `${path} was analysed completely`);
    const house = report.diagnostics.filter((d) => d.source === 'GUARD' || d.source === 'CUSTOM');
    return [...new Set(house.map((d) => d.ruleId))].sort();
  }

  /** A small template with these resources, written where the validator can read it. */
  function fixture(name: string, resources: string): string {
    const path = `test-results/guard/${name}.template.yml`;
    mkdirSync('test-results/guard', { recursive: true });
    writeFileSync(path, `AWSTemplateFormatVersion: '2010-09-09'\nResources:\n${resources}`);
    return path;
  }

  /** Asserts that the rule passes the good template and refuses each bad one (so that it is no rubber stamp). */
  function controls(rule: string, good: string, bad: Record<string, string>) {
    it(`${rule}: passes ${good.trim().split('\n')[0] ?? ''}…`, () => {
      assert.deepEqual(broken(fixture(`${rule}-good`, good)), []);
    });
    for (const [name, resources] of Object.entries(bad)) {
      it(`${rule}: refuses ${name}`, () => {
        assert.deepEqual(broken(fixture(`${rule}-${name.replace(/\W+/g, '-')}`, resources)), [rule]);
      });
    }
  }

  it('loads the rules: two in Guard, two in Rego', () => {
    assert.deepEqual(guardFiles, ['infra/guard/ecr-immutable-tags.guard', 'infra/guard/ecs-deployment-safety.guard']);
    assert.deepEqual(regoFiles, ['infra/guard/dynamodb-retention.rego', 'infra/guard/iam-least-privilege.rego']);
  });

  for (const path of templates) {
    it(`${path} keeps every rule`, () => {
      assert.deepEqual(broken(path), []);
    });
  }

  const service = (breaker: string, alarms: string) => `
  Service:
    Type: AWS::ECS::Service
    Properties:
      DeploymentConfiguration:
${breaker ? `        DeploymentCircuitBreaker: ${breaker}\n` : ''}${alarms ? `        Alarms: ${alarms}\n` : ''}`;
  const on = '{ Enable: true, Rollback: true }';
  const alarms = (enable: boolean, rollback: boolean) =>
    `{ AlarmNames: [a], Enable: ${enable}, Rollback: ${rollback} }`;
  controls('ecs_service_rolls_back', service(on, alarms(true, true)), {
    'a service without deployment alarms': service(on, ''),
    'deployment alarms that do not roll back': service(on, alarms(true, false)),
    'deployment alarms that are off': service(on, alarms(false, true)),
    'a service without a circuit breaker': service('', alarms(true, true)),
    'a circuit breaker that does not roll back': service('{ Enable: true, Rollback: false }', alarms(true, true)),
  });

  const repository = (properties: string) => `
  Repository:
    Type: AWS::ECR::Repository
    Properties: ${properties}
`;
  controls('ecr_tags_immutable', repository('{ ImageTagMutability: IMMUTABLE }'), {
    'mutable tags': repository('{ ImageTagMutability: MUTABLE }'),
    'tags mutable by default (no ImageTagMutability)': repository('{ RepositoryName: r }'),
  });

  const table = (policies: string) => `
  Table:
    Type: AWS::DynamoDB::Table
${policies}    Properties: { BillingMode: PAY_PER_REQUEST }
`;
  controls('dynamodb_table_kept', table('    DeletionPolicy: Snapshot\n    UpdateReplacePolicy: Retain\n'), {
    'a table without DeletionPolicy': table('    UpdateReplacePolicy: Retain\n'),
    'a table deleted with the stack': table('    DeletionPolicy: Delete\n    UpdateReplacePolicy: Retain\n'),
    'a table without UpdateReplacePolicy': table('    DeletionPolicy: Retain\n'),
  });

  const role = (statement: string, managed = '') => `
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: { Statement: [] }${managed}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - { Effect: Allow, Resource: '*', ${statement} }
`;
  const policy = (type: string, statement: string) => `
  Policy:
    Type: ${type}
    Properties:
      PolicyName: p
      Roles: [r]
      PolicyDocument: { Statement: [{ Effect: Allow, Resource: '*', ${statement} }] }
`;
  const taskExecution =
    "\n      ManagedPolicyArns: [!Sub 'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy']";
  controls(
    'iam_no_wildcard_action',
    role("Action: ['s3:GetObject']", taskExecution) + policy('AWS::IAM::Policy', "Action: 'sns:Publish'"),
    {
      'a role allowing Action "*"': role("Action: '*'"),
      'a role allowing "*" among other actions': role("Action: ['s3:GetObject', '*']"),
      'an AWS::IAM::Policy allowing "*"': policy('AWS::IAM::Policy', "Action: '*'"),
      'an AWS::IAM::ManagedPolicy allowing "*"': policy('AWS::IAM::ManagedPolicy', "Action: ['*']"),
    },
  );
  it('iam_no_wildcard_action: lets a Deny statement name "*"', () => {
    const deny = role("Action: ['s3:GetObject']").replace(
      '              - { Effect: Allow',
      "              - { Effect: Deny, Resource: '*', Action: '*' }\n              - { Effect: Allow",
    );
    assert.deepEqual(broken(fixture('iam-deny-all', deny)), []);
  });
  controls('iam_no_administrator_access', role("Action: ['s3:GetObject']", taskExecution), {
    'AdministratorAccess by !Sub': role(
      "Action: ['s3:GetObject']",
      "\n      ManagedPolicyArns: [!Sub 'arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess']",
    ),
    'AdministratorAccess by its ARN': role(
      "Action: ['s3:GetObject']",
      '\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::aws:policy/AdministratorAccess]',
    ),
  });
});
