import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  actionsOf,
  loadTemplate,
  one,
  resourcesOf,
  statementsOf,
  type Node,
  type Resource,
  type Statement,
  type Template,
} from './support/cloudformation.js';

interface Action {
  Name: string;
  RunOrder?: number;
  ActionTypeId: { Category: string; Owner: string; Provider: string; Version: string };
  Configuration: Record<string, unknown>;
  Namespace?: string;
  InputArtifacts?: { Name: string }[];
}
interface Stage {
  Name: string;
  OnFailure?: { Result: string };
  Actions: Action[];
}

const pipelineTemplate = loadTemplate('infra/pipeline.template.yml');
const stacks = {
  cognito: loadTemplate('infra/cognito.template.yml'),
  service: loadTemplate('infra/service.template.yml'),
  dashboard: loadTemplate('infra/dashboard.template.yml'),
} as const;
type StackKind = keyof typeof stacks;
const environments = ['dev', 'prod'] as const;
const capitalised = (env: string) => env.charAt(0).toUpperCase() + env.slice(1);

const pipeline = one(pipelineTemplate, 'AWS::CodePipeline::Pipeline');
const stageEntries = pipeline.Properties['Stages'] as (Stage | { 'Fn::If': [string, Stage, unknown] })[];
/** The stages in order, with the conditional approval stage taken as present. */
const stages: Stage[] = stageEntries.map((entry) => ('Fn::If' in entry ? entry['Fn::If'][1] : entry));
const stage = (name: string): Stage => {
  const found = stages.find((s) => s.Name === name);
  assert.ok(found, `no stage ${name}`);
  return found;
};
const action = (stageName: string, actionName: string): Action => {
  const found = stage(stageName).Actions.find((a) => a.Name === actionName);
  assert.ok(found, `no action ${stageName}.${actionName}`);
  return found;
};
/** A role resource by the logical name a !GetAtt <Name>.Arn points at. */
const roleOf = (reference: unknown): [string, Resource] => {
  const [name] = (reference as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  const role = pipelineTemplate.Resources[name];
  assert.ok(role?.Type === 'AWS::IAM::Role', `${name} is a role`);
  return [name, role];
};
const trustedService = (role: Resource) =>
  (role.Properties['AssumeRolePolicyDocument'] as { Statement: { Principal: { Service: string } }[] }).Statement.map(
    (s) => s.Principal.Service,
  );
const environmentVariablesOf = (smoke: Action) =>
  JSON.parse(
    typeof smoke.Configuration['EnvironmentVariables'] === 'string'
      ? smoke.Configuration['EnvironmentVariables']
      : (smoke.Configuration['EnvironmentVariables'] as { 'Fn::Sub': string })['Fn::Sub'],
  ) as { name: string; value: string; type: string }[];

describe('the pipeline (infra/pipeline.template.yml)', () => {
  it('is a CodePipeline V2 in QUEUED mode, started by a push to the branch parameter', () => {
    assert.equal(pipeline.Properties['PipelineType'], 'V2');
    assert.equal(pipeline.Properties['ExecutionMode'], 'QUEUED');
    assert.deepEqual(pipeline.Properties['Triggers'], [
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', Push: [{ Branches: { Includes: [{ Ref: 'BranchName' }] } }] },
      },
    ]);
  });

  it('runs Source, Build, Dev, an optional Promote approval, then Prod', () => {
    assert.deepEqual(
      stages.map((s) => s.Name),
      ['Source', 'Build', 'Dev', 'Promote', 'Prod'],
    );
    const promote = stageEntries[3] as { 'Fn::If': [string, Stage, unknown] };
    assert.deepEqual([promote['Fn::If'][0], promote['Fn::If'][2]], ['ApprovalRequired', { Ref: 'AWS::NoValue' }]);
    assert.deepEqual(pipelineTemplate.Conditions?.['ApprovalRequired'], {
      'Fn::Equals': [{ Ref: 'RequireApproval' }, 'true'],
    });
    assert.deepEqual(action('Promote', 'Approve').ActionTypeId.Provider, 'Manual');
  });

  it("takes the source from an AWS CodeConnections connection, not GitHub's OAuth (v1) action", () => {
    const source = action('Source', 'Source');
    assert.deepEqual(source.ActionTypeId, {
      Category: 'Source',
      Owner: 'AWS',
      Provider: 'CodeStarSourceConnection',
      Version: '1',
    });
    assert.deepEqual(source.Configuration['ConnectionArn'], { Ref: 'ConnectionArn' });
    assert.deepEqual(source.Configuration['FullRepositoryId'], { Ref: 'FullRepositoryId' });
    assert.deepEqual(source.Configuration['BranchName'], { Ref: 'BranchName' });
    const text = readFileSync('infra/pipeline.template.yml', 'utf8');
    assert.doesNotMatch(text, /OAuthToken|Provider: GitHub\b|Owner: ThirdParty/);
  });

  it('rolls an environment back as a whole: its deploys and its smoke test are one stage, with OnFailure ROLLBACK', () => {
    for (const env of environments) {
      const name = capitalised(env);
      assert.deepEqual(stage(name).OnFailure, { Result: 'ROLLBACK' }, name);
      assert.deepEqual(
        stage(name).Actions.map((a) => [a.Name, a.RunOrder, a.ActionTypeId.Provider]),
        [
          ['Cognito', 1, 'CloudFormation'],
          ['Service', 2, 'CloudFormation'],
          ['Dashboard', 3, 'CloudFormation'],
          ['Smoke', 3, 'CodeBuild'],
        ],
        name,
      );
    }
  });

  it("deploys each environment's stacks with its parameter files, as the CloudFormation execution role", () => {
    for (const env of environments) {
      const name = capitalised(env);
      for (const kind of ['cognito', 'service', 'dashboard'] as const) {
        const deploy = action(name, capitalised(kind));
        assert.equal(deploy.Configuration['ActionMode'], 'CREATE_UPDATE');
        assert.equal(deploy.Configuration['TemplatePath'], `Source::infra/${kind}.template.yml`);
        assert.equal(deploy.Configuration['TemplateConfiguration'], `Source::infra/parameters/${env}.${kind}.json`);
        assert.equal(
          deploy.Configuration['StackName'],
          kind === 'service' ? `product-service-${env}` : `product-service-${env}-${kind}`,
        );
        assert.equal(roleOf(deploy.Configuration['RoleArn'])[0], 'CloudFormationRole');
      }
    }
  });

  it('deploys the image the build exported (#{BuildVariables.IMAGE_URI}), not a URI written into a file', () => {
    const build = action('Build', 'TestAndImage');
    assert.equal(build.Namespace, 'BuildVariables');
    const buildspec = parse(readFileSync('buildspec.yml', 'utf8')) as { env: { 'exported-variables': string[] } };
    assert.ok(buildspec.env['exported-variables'].includes('IMAGE_URI'));
    for (const env of environments) {
      const overrides: unknown = JSON.parse(
        action(capitalised(env), 'Service').Configuration['ParameterOverrides'] as string,
      );
      assert.deepEqual(overrides, { ImageUri: '#{BuildVariables.IMAGE_URI}' });
    }
    assert.doesNotMatch(readFileSync('buildspec.yml', 'utf8'), /\bsed\b/);
  });

  it('smoke-tests each environment at its stack outputs with the smoke client from Secrets Manager; prod writes only if asked', () => {
    for (const env of environments) {
      const name = capitalised(env);
      const smoke = action(name, 'Smoke');
      assert.deepEqual(smoke.Configuration['ProjectName'], { Ref: 'SmokeProject' });
      const variables = Object.fromEntries(environmentVariablesOf(smoke).map((v) => [v.name, [v.value, v.type]]));
      assert.deepEqual(variables, {
        SMOKE_BASE_URL: [`#{${name}Service.ServiceUrl}`, 'PLAINTEXT'],
        SMOKE_TOKEN_URL: [`#{${name}Cognito.TokenUrl}`, 'PLAINTEXT'],
        SMOKE_CLIENT_ID: [`#{${name}Cognito.SmokeClientSecretArn}:client_id`, 'SECRETS_MANAGER'],
        SMOKE_CLIENT_SECRET: [`#{${name}Cognito.SmokeClientSecretArn}:client_secret`, 'SECRETS_MANAGER'],
        SMOKE_WRITE: [env === 'dev' ? '1' : '${ProdSmokeWrite}', 'PLAINTEXT'],
        // For infra/tag-deployed-image.sh (test/ecr-lifecycle.test.ts): the image this environment now runs.
        IMAGE_URI: ['#{BuildVariables.IMAGE_URI}', 'PLAINTEXT'],
        DEPLOY_ENV: [env, 'PLAINTEXT'],
      });
    }
    assert.equal(pipelineTemplate.Parameters['ProdSmokeWrite']?.Default, '0');
  });

  it('refers only to variables that an earlier action declares: stack outputs, exported build variables', () => {
    const text = JSON.stringify(stages);
    const declared = new Map<string, Set<string>>([
      ['SourceVariables', new Set(['CommitId', 'BranchName', 'FullRepositoryName', 'CommitMessage'])],
      ['BuildVariables', new Set(['IMAGE_URI'])],
    ]);
    for (const env of environments) {
      for (const kind of ['cognito', 'service'] as const) {
        const namespace = action(capitalised(env), kind === 'cognito' ? 'Cognito' : 'Service').Namespace ?? '';
        declared.set(namespace, new Set(Object.keys(stacks[kind].Outputs)));
      }
    }
    const references = [...text.matchAll(/#\{(\w+)\.(\w+)\}/g)];
    assert.ok(references.length > 10);
    for (const [reference, namespace = '', variable = ''] of references) {
      assert.ok(declared.get(namespace)?.has(variable), `${reference} names nothing`);
    }
  });

  it('owns an ECR repository with immutable tags, scan on push and a lifecycle policy, and pushes the commit tag there', () => {
    const repository = one(pipelineTemplate, 'AWS::ECR::Repository');
    assert.equal(repository.Properties['ImageTagMutability'], 'IMMUTABLE');
    assert.deepEqual(repository.Properties['ImageScanningConfiguration'], { ScanOnPush: true });
    const lifecycle = JSON.parse(
      (repository.Properties['LifecyclePolicy'] as { LifecyclePolicyText: string }).LifecyclePolicyText,
    ) as { rules: { selection: { tagStatus: string; countType: string } }[] };
    assert.deepEqual(
      lifecycle.rules.map((r) => [r.selection.tagStatus, r.selection.countType]),
      [
        ['untagged', 'sinceImagePushed'],
        ['tagged', 'imageCountMoreThan'],
        ['tagged', 'imageCountMoreThan'],
        ['any', 'imageCountMoreThan'],
      ],
    );
    const build = pipelineTemplate.Resources['BuildProject'];
    const environment = build?.Properties['Environment'] as Node;
    assert.equal(environment['PrivilegedMode'], true, 'Docker builds need privileged mode');
    assert.deepEqual(environment['EnvironmentVariables'], [
      { Name: 'REPOSITORY_URI', Value: { 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] } },
    ]);
    assert.match(
      readFileSync('buildspec.yml', 'utf8'),
      /IMAGE_URI="\$REPOSITORY_URI:\$CODEBUILD_RESOLVED_SOURCE_VERSION"/,
    );
  });

  it('uses four roles, one per service: pipeline, build, smoke build and CloudFormation', () => {
    const pipelineRole = roleOf(pipeline.Properties['RoleArn']);
    const buildRole = roleOf(pipelineTemplate.Resources['BuildProject']?.Properties['ServiceRole']);
    const smokeRole = roleOf(pipelineTemplate.Resources['SmokeProject']?.Properties['ServiceRole']);
    const cloudFormationRole = roleOf(action('Dev', 'Service').Configuration['RoleArn']);
    const roles = [pipelineRole, buildRole, smokeRole, cloudFormationRole];
    assert.equal(new Set(roles.map(([name]) => name)).size, 4);
    assert.equal(resourcesOf(pipelineTemplate, 'AWS::IAM::Role').length, 4);
    assert.deepEqual(
      roles.map(([, role]) => trustedService(role)),
      [
        ['codepipeline.amazonaws.com'],
        ['codebuild.amazonaws.com'],
        ['codebuild.amazonaws.com'],
        ['cloudformation.amazonaws.com'],
      ],
    );
  });

  describe('least privilege', () => {
    const role = (name: string) => {
      const found = pipelineTemplate.Resources[name];
      assert.ok(found, name);
      return found;
    };
    const grants = (name: string, granted: string): Statement[] =>
      statementsOf(role(name)).filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(granted));

    it('grants no role a managed policy and no action with a wildcard, but the execution role its reads', () => {
      for (const [name, resource] of Object.entries(pipelineTemplate.Resources)) {
        if (resource.Type !== 'AWS::IAM::Role') continue;
        assert.equal(resource.Properties['ManagedPolicyArns'], undefined, `${name} has managed policies`);
        for (const statement of statementsOf(resource)) {
          for (const granted of actionsOf(statement)) {
            // Describe* and List* only; test/execution-role.test.ts holds them to reading no data.
            const read = name === 'CloudFormationRole' && /^[a-z0-9-]+:(Describe|List)\*$/.test(granted);
            assert.ok(!granted.includes('*') || read, `${name}: ${granted}`);
          }
        }
      }
    });

    it('lets only the pipeline pass the CloudFormation role, and only to CloudFormation', () => {
      const passes = Object.keys(pipelineTemplate.Resources).filter((name) => {
        const resource = pipelineTemplate.Resources[name];
        return resource?.Type === 'AWS::IAM::Role' && grants(name, 'iam:PassRole').length > 0;
      });
      assert.deepEqual(passes.sort(), ['CloudFormationRole', 'PipelineRole']);
      assert.deepEqual(
        grants('PipelineRole', 'iam:PassRole').map((s) => [s.Resource, s.Condition]),
        [
          [
            { 'Fn::GetAtt': ['CloudFormationRole', 'Arn'] },
            { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
          ],
        ],
      );
      // CloudFormation passes the stacks' own task roles to ECS tasks, and nothing else.
      assert.deepEqual(
        grants('CloudFormationRole', 'iam:PassRole').map((s) => s.Condition),
        [{ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }],
      );
    });

    it('lets only the smoke build read secrets, and only the smoke clients of this service', () => {
      for (const name of ['PipelineRole', 'BuildRole']) {
        assert.deepEqual(grants(name, 'secretsmanager:GetSecretValue'), [], name);
      }
      // CloudFormation's secret handler reads a secret to update it: this service's secrets only.
      assert.deepEqual(
        grants('CloudFormationRole', 'secretsmanager:GetSecretValue').map((statement) => statement.Resource),
        [
          {
            'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:product-service-*',
          },
        ],
      );
      const [read, ...others] = grants('SmokeBuildRole', 'secretsmanager:GetSecretValue');
      assert.equal(others.length, 0);
      assert.deepEqual(
        read?.Resource,
        environments.map((env) => ({
          'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:product-service-${env}/smoke-client-*`,
        })),
      );
      for (const env of environments) {
        const overrides = action(capitalised(env), 'Cognito').Configuration['ParameterOverrides'] as {
          'Fn::Sub': string;
        };
        assert.deepEqual(JSON.parse(overrides['Fn::Sub']), {
          SmokeReaderRoleArn: '${SmokeBuildRole.Arn}',
          DeployerRoleArn: '${CloudFormationRole.Arn}',
        });
      }
    });

    it('lets the build push to its own repository only', () => {
      const pushes = grants('BuildRole', 'ecr:PutImage');
      assert.deepEqual(
        pushes.map((s) => s.Resource),
        [{ 'Fn::GetAtt': ['ImageRepository', 'Arn'] }],
      );
    });

    it("lets CloudFormation manage the two stacks' resource types and nothing more", () => {
      // Target tracking creates and deletes its own CloudWatch alarms with the caller's permissions.
      const servicePrefixes: Record<string, string[]> = {
        Cognito: ['cognito-idp'],
        DynamoDB: ['dynamodb'],
        SNS: ['sns'],
        Logs: ['logs'],
        SecretsManager: ['secretsmanager'],
        ECS: ['ecs'],
        ElasticLoadBalancingV2: ['elasticloadbalancing'],
        EC2: ['ec2'],
        IAM: ['iam'],
        ApplicationAutoScaling: ['application-autoscaling', 'cloudwatch'],
        CloudWatch: ['cloudwatch'],
        // A WaitConditionHandle is CloudFormation's own and calls no other service.
        CloudFormation: [],
      };
      const needed = new Set(
        [...Object.values(stacks.cognito.Resources), ...Object.values(stacks.service.Resources)].flatMap((resource) => {
          const prefixes = servicePrefixes[resource.Type.split('::')[1] ?? ''];
          assert.ok(
            prefixes,
            `the execution role knows nothing of ${resource.Type}: grant its actions, then list it here`,
          );
          return prefixes;
        }),
      );
      const granted = new Set(
        statementsOf(role('CloudFormationRole')).flatMap((s) => actionsOf(s).map((a) => a.split(':')[0] ?? '')),
      );
      assert.deepEqual([...granted].sort(), [...needed].sort());
    });

    it('scopes the execution role to product-service-* names wherever the ARN carries the name', () => {
      const scoped = ['dynamodb', 'sns', 'logs', 'secretsmanager', 'iam'];
      for (const statement of statementsOf(role('CloudFormationRole'))) {
        const actions = actionsOf(statement);
        const services = new Set(actions.map((a) => a.split(':')[0] ?? ''));
        const readOnly = actions.every((a) => /:(Describe|List|Get)\w*$/.test(a));
        if (statement.Resource === '*' || readOnly || ![...services].some((s) => scoped.includes(s))) continue;
        for (const resource of [statement.Resource].flat()) {
          assert.match(
            JSON.stringify(resource),
            /product-service-\*/,
            `${actions.join(',')} on ${JSON.stringify(resource)}`,
          );
        }
      }
    });

    it("keeps '*' resources to the calls that take no resource ARN (a wider grant shows here as a diff)", () => {
      const unscoped = statementsOf(role('CloudFormationRole'))
        .filter((s) => s.Resource === '*')
        .flatMap(actionsOf)
        .filter((a) => !/:(Describe|List|Get)\w*\*?$/.test(a))
        .sort();
      assert.deepEqual(
        unscoped,
        [
          'application-autoscaling:DeregisterScalableTarget',
          'application-autoscaling:PutScalingPolicy',
          'application-autoscaling:RegisterScalableTarget',
          'application-autoscaling:TagResource',
          'application-autoscaling:DeleteScalingPolicy',
          'cognito-idp:CreateUserPool',
          'ecs:DeregisterTaskDefinition',
          'ecs:RegisterTaskDefinition',
          'iam:CreateServiceLinkedRole',
        ].sort(),
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** Parameters the pipeline supplies at deploy time (ParameterOverrides), so a file need not name them. */
const suppliedByPipeline: Record<StackKind, string[]> = {
  cognito: ['SmokeReaderRoleArn'],
  service: ['ImageUri'],
  dashboard: [],
};

/** What is wrong with a TemplateConfiguration file for a template: each problem as a sentence, none when right. */
function parameterFileProblems(file: unknown, template: Template, kind: StackKind, env: string): string[] {
  const problems: string[] = [];
  if (typeof file !== 'object' || file === null || Object.keys(file).join() !== 'Parameters') {
    return ['is not of the form {"Parameters": {…}}'];
  }
  const values = (file as { Parameters: Record<string, unknown> }).Parameters;
  for (const [name, value] of Object.entries(values)) {
    const declared = template.Parameters[name];
    // CloudFormation refuses a parameter its template does not declare, so a stale name fails the deploy.
    if (!declared) {
      problems.push(`names ${name}, which the template does not declare`);
      continue;
    }
    // TemplateConfiguration values are strings; a JSON number or list is refused by CodePipeline.
    if (typeof value !== 'string') {
      problems.push(`gives ${name} a ${typeof value}, not a string`);
      continue;
    }
    if (declared.AllowedPattern && !new RegExp(declared.AllowedPattern, 'u').test(value)) {
      problems.push(`gives ${name} a value outside its AllowedPattern`);
    }
    if (declared.AllowedValues && !declared.AllowedValues.includes(value)) {
      problems.push(`gives ${name} a value outside its AllowedValues`);
    }
    if (looksSecret(name, value, declared)) problems.push(`gives ${name} what looks like a secret`);
  }
  for (const [name, declared] of Object.entries(template.Parameters)) {
    if (declared.Default === undefined && !(name in values) && !suppliedByPipeline[kind].includes(name)) {
      problems.push(`misses ${name}, which has no default`);
    }
  }
  if (values['EnvironmentName'] !== env) problems.push(`sets EnvironmentName to ${String(values['EnvironmentName'])}`);
  return problems;
}

/** A secret has no business in a committed file: by the parameter's name or NoEcho, or by the value's shape. */
function looksSecret(name: string, value: string, declared: { NoEcho?: boolean }): boolean {
  if (value === '') return false;
  return (
    declared.NoEcho === true ||
    /secret|password|passphrase|token|credential|private/i.test(name) ||
    /\b(AKIA|ASIA)[0-9A-Z]{16}\b/.test(value) ||
    /-----BEGIN /.test(value) ||
    // A long run of base64 or hex with nothing between: a key, not an id, ARN or name (those break at - : / .).
    /[A-Za-z0-9+=_]{32,}/.test(value)
  );
}

const parametersOf = (name: string) =>
  (JSON.parse(readFileSync(`infra/parameters/${name}`, 'utf8')) as { Parameters: Record<string, string> }).Parameters;

/** Every parameter of the dashboard stack that the service stack also declares must have the same value in both files. */
function dashboardDrift(service: Record<string, string>, dashboard: Record<string, string>): string[] {
  return Object.keys(stacks.dashboard.Parameters)
    .filter((name) => name in stacks.service.Parameters)
    .filter((name) => service[name] !== dashboard[name])
    .map((name) => `${name}: the service stack has "${service[name]}", the dashboard "${dashboard[name]}"`);
}

describe('the parameter files (infra/parameters/<env>.<stack>.json)', () => {
  const files = readdirSync('infra/parameters').sort();

  it('has one file per environment and stack: the TemplateConfiguration of a stack may name only its parameters', () => {
    assert.deepEqual(files, [
      'dev.cognito.json',
      'dev.dashboard.json',
      'dev.service.json',
      'prod.cognito.json',
      'prod.dashboard.json',
      'prod.service.json',
    ]);
  });

  for (const name of files) {
    it(`${name} sets exactly what its template declares, in the {"Parameters": {…}} form, and no secret`, () => {
      const [env = '', kind = ''] = name.split('.');
      assert.ok(kind === 'cognito' || kind === 'service' || kind === 'dashboard', name);
      const file: unknown = JSON.parse(readFileSync(`infra/parameters/${name}`, 'utf8'));
      assert.deepEqual(parameterFileProblems(file, stacks[kind], kind, env), []);
    });
  }

  it('sets the alarm thresholds, task counts and telemetry per environment (the service template declares them)', () => {
    for (const env of environments) {
      const { Parameters } = JSON.parse(readFileSync(`infra/parameters/${env}.service.json`, 'utf8')) as {
        Parameters: Record<string, string>;
      };
      for (const key of [
        'DesiredCount',
        'MinCapacity',
        'MaxCapacity',
        'AlarmEmail',
        'Max5xxRatePercent',
        'MaxP99LatencySeconds',
        'Telemetry',
        'TraceSampleRatio',
        'MaxOutboxAgeSeconds',
        'MaxStoreUnavailablePercent',
      ]) {
        assert.ok(key in Parameters, `${env}: ${key}`);
      }
    }
  });

  it("gives the dashboard the service stack's telemetry switch and thresholds: the widgets draw what the alarms use", () => {
    for (const env of environments) {
      assert.deepEqual(dashboardDrift(parametersOf(`${env}.service.json`), parametersOf(`${env}.dashboard.json`)), []);
    }
    // Not a rubber stamp: a threshold tuned in one file only is caught.
    const tuned = { ...parametersOf('prod.service.json'), Max5xxRatePercent: '3' };
    assert.deepEqual(dashboardDrift(tuned, parametersOf('prod.dashboard.json')), [
      'Max5xxRatePercent: the service stack has "3", the dashboard "1"',
    ]);
  });

  it('is not a rubber stamp: an unknown parameter, a missing one, a number, a bad pattern and a secret are each caught', () => {
    const good = JSON.parse(readFileSync('infra/parameters/dev.service.json', 'utf8')) as {
      Parameters: Record<string, unknown>;
    };
    const { VpcId: _vpc, ...withoutVpc } = good.Parameters;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good.Parameters, DomainPrefix: 'x' }, /names DomainPrefix, which the template does not declare/],
      [withoutVpc, /misses VpcId, which has no default/],
      [{ ...good.Parameters, DesiredCount: 2 }, /gives DesiredCount a number/],
      [{ ...good.Parameters, EnvironmentName: 'Dev' }, /EnvironmentName a value outside its AllowedPattern/],
      [
        { ...good.Parameters, AlarmEmail: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY' },
        /AlarmEmail what looks like a secret/,
      ],
      [{ ...good.Parameters, CertificateArn: 'AKIAIOSFODNN7EXAMPLE' }, /CertificateArn what looks like a secret/],
    ];
    for (const [parameters, expected] of cases) {
      const problems = parameterFileProblems({ Parameters: parameters }, stacks.service, 'service', 'dev');
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${String(expected)}: ${JSON.stringify(problems)}`,
      );
    }
    assert.deepEqual(parameterFileProblems([], stacks.service, 'service', 'dev'), [
      'is not of the form {"Parameters": {…}}',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('the buildspecs call what exists', () => {
  const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  const buildspecs = ['buildspec.yml', 'smoke.buildspec.yml'];

  it('names the buildspecs the CodeBuild projects use', () => {
    const used = resourcesOf(pipelineTemplate, 'AWS::CodeBuild::Project').map(
      (project) => (project.Properties['Source'] as { BuildSpec: string }).BuildSpec,
    );
    assert.deepEqual(used.sort(), [...buildspecs].sort());
  });

  for (const path of buildspecs) {
    const buildspec = parse(readFileSync(path, 'utf8')) as {
      version: number;
      phases: Record<string, { commands: string[] }>;
    };
    const commands = Object.values(buildspec.phases).flatMap((phase) => phase.commands);

    it(`${path}: every npm run names a package.json script, every file it calls exists`, () => {
      assert.equal(buildspec.version, 0.2);
      const runs = commands.flatMap((c) => [...c.matchAll(/npm run (?:--silent )?([\w:-]+)/g)].map((m) => m[1] ?? ''));
      for (const script of runs) assert.ok(scripts[script], `npm run ${script}: no such script`);
      const files = commands.flatMap((c) =>
        [...c.matchAll(/(?:bash |--file |\s)((?:\.ci|infra|smoke|src)\/[\w./-]+|Dockerfile)\b/g)].map(
          (m) => m[1] ?? '',
        ),
      );
      for (const file of files) assert.ok(existsSync(file), `${path} calls ${file}, which does not exist`);
      assert.ok(runs.length + files.length > 0, 'the buildspec calls something');
    });
  }

  it('buildspec.yml tests as CI does (.ci/run) before it builds the image from the Dockerfile', () => {
    const text = readFileSync('buildspec.yml', 'utf8');
    assert.ok(text.indexOf('bash .ci/run') < text.indexOf('docker build --file Dockerfile'));
    assert.match(text, /docker push "\$IMAGE_URI"/);
  });

  it("buildspec.yml tests in the Dockerfile's pinned base, without the image test, which podman cannot run there", () => {
    const text = readFileSync('buildspec.yml', 'utf8');
    // The base as .ci/base-image reads it from the Dockerfile: test/image.test.ts holds that to the one pin.
    assert.match(
      text,
      /^ {6}- docker run --rm --volume "\$PWD:\/src" --workdir \/src "\$\(bash \.ci\/base-image\)" bash \.ci\/run --skip-image-test$/m,
    );
    assert.match(readFileSync('.ci/run', 'utf8'), /^ {4}--skip-image-test\) image_test=0 ;;$/m);
    assert.doesNotMatch(text, /\bnode:/, 'no image tag of its own');
  });

  it('smoke.buildspec.yml runs npm run smoke on the Node .ci/run installs, with SMOKE_CLIENT as id:secret', () => {
    const text = readFileSync('smoke.buildspec.yml', 'utf8');
    // .ci/pinned-node, as .ci/run sources it; test/image.test.ts runs it against other Node versions.
    assert.ok(text.indexOf('- . .ci/pinned-node') < text.indexOf('- npm run smoke'));
    assert.match(text, /export SMOKE_CLIENT="\$SMOKE_CLIENT_ID:\$SMOKE_CLIENT_SECRET"/);
    assert.equal(scripts['smoke'], 'tsx smoke/run.ts');
  });

  it("points the pipeline's deploy actions at templates and parameter files that exist", () => {
    const paths = stages
      .flatMap((s) => s.Actions)
      .flatMap((a) => [a.Configuration['TemplatePath'], a.Configuration['TemplateConfiguration']])
      .filter((p): p is string => typeof p === 'string')
      .map((p) => p.replace(/^Source::/, ''));
    assert.equal(paths.length, 12);
    for (const path of paths) assert.ok(existsSync(path), path);
  });
});
