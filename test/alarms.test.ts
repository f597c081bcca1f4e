import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  loadTemplate,
  parseTemplate,
  subProblems,
  subStrings,
  type Node,
  type Template,
} from './support/cloudformation.js';
import {
  catalogue,
  dashboardBody,
  deploymentAlarmProblems,
  metricProblems,
  metricUses,
} from './support/metric-catalogue.js';

const templates = globSync('infra/*.template.yml').sort();

function resourcesOf(template: Template, type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function allSubProblems(template: Template): string[] {
  return subStrings(template).flatMap(({ text, known }) => subProblems(text, known));
}

describe('Alarms and the dashboard', () => {
  const template = loadTemplate('infra/service.template.yml');
  const resources = template.Resources;
  const alarm = (id: string) => {
    const found = resources[id];
    assert.ok(found?.Type === 'AWS::CloudWatch::Alarm', `${id} is an alarm`);
    return found.Properties;
  };

  it('catalogue: every metric comes with the AWS page that documents its dimension sets', () => {
    for (const [namespace, { source, metrics }] of Object.entries(catalogue)) {
      assert.match(source, /^https:\/\/docs\.aws\.amazon\.com\//, namespace);
      assert.ok(Object.keys(metrics).length > 0, namespace);
    }
  });

  it('names only metrics and dimension sets AWS publishes, each dimension a resource of this stack', () => {
    assert.ok(metricUses(template).length >= 20, 'the alarms and the dashboard were read');
    assert.deepEqual(metricProblems(template), []);
  });

  for (const path of templates) {
    it(`${path}: every !Sub has balanced \${…}, no stray $, and names only what the template defines`, () => {
      assert.deepEqual(allSubProblems(loadTemplate(path)), []);
    });
  }

  it('rolls a deployment back on the target 5xx-rate and p99 alarms, and keeps the circuit breaker', () => {
    const [[, service] = []] = resourcesOf(template, 'AWS::ECS::Service');
    const configuration = service?.Properties['DeploymentConfiguration'] as Node;
    assert.deepEqual(configuration['DeploymentCircuitBreaker'], { Enable: true, Rollback: true });
    assert.deepEqual(configuration['Alarms'], {
      AlarmNames: [{ Ref: 'Target5xxRateAlarm' }, { Ref: 'TargetP99LatencyAlarm' }],
      Enable: true,
      Rollback: true,
    });
    assert.deepEqual(deploymentAlarmProblems(template), []);
  });

  it("computes the 5xx rate from the target group's 5xx and requests, OK when there are no requests", () => {
    const rate = alarm('Target5xxRateAlarm');
    const queries = rate['Metrics'] as Node[];
    const returned = queries.filter((q) => q['ReturnData'] === true);
    assert.equal(returned.length, 1, 'one time series is compared');
    assert.match(String(returned[0]?.['Expression']), /FILL\(errors, 0\)/);
    const inputs = Object.fromEntries(
      queries.flatMap((q): [string, unknown][] => {
        const metric = (q['MetricStat'] as Node | undefined)?.['Metric'] as Node | undefined;
        return metric ? [[String(q['Id']), metric['MetricName']]] : [];
      }),
    );
    assert.deepEqual(inputs, { errors: 'HTTPCode_Target_5XX_Count', requests: 'RequestCount' });
    assert.equal(rate['TreatMissingData'], 'notBreaching');
    assert.deepEqual(rate['Threshold'], { Ref: 'Max5xxRatePercent' });
  });

  it('compares the p99 target response time with MaxP99LatencySeconds', () => {
    const latency = alarm('TargetP99LatencyAlarm');
    assert.equal(latency['MetricName'], 'TargetResponseTime');
    assert.equal(latency['ExtendedStatistic'], 'p99');
    assert.equal(latency['Statistic'], undefined);
    assert.equal(latency['TreatMissingData'], 'notBreaching');
    assert.deepEqual(latency['Threshold'], { Ref: 'MaxP99LatencySeconds' });
  });

  it('watches throttles and system errors for exactly the operations src/products/repository.ts calls on each table', () => {
    const code = readFileSync('src/products/repository.ts', 'utf8');
    const calls = [...code.matchAll(/new (\w+)Command\(/g)];
    const named = [...code.matchAll(/new (\w+)Command\(\{\s*TableName: (\w+)/g)];
    assert.equal(named.length, calls.length, 'each DynamoDB call names its table first, so that it can be counted');
    const tables: Record<string, string> = { productsTable: 'ProductsTable', snapshotsTable: 'ProductSnapshotsTable' };
    const operations: Record<string, string> = { Get: 'GetItem', Put: 'PutItem', Update: 'UpdateItem' };
    const used = new Set(
      named.map(([, command = '', table = '']) => `${tables[table]} ${operations[command] ?? command}`),
    );
    for (const id of ['StoreThrottlesAlarm', 'StoreSystemErrorsAlarm']) {
      const watched = metricUses({
        ...template,
        Resources: { [id]: { Type: 'AWS::CloudWatch::Alarm', Properties: alarm(id) } },
      })
        .map((use) => use.dimensions.map((d) => Object.values(d.value)[0] as string).join(' '))
        .sort();
      assert.deepEqual(watched, [...used].sort(), id);
    }
  });

  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html: at most 10 metrics, a hard
  // limit; PutMetricAlarm: at most 10 expressions, exactly one of them returned. Past that the stack fails to deploy.
  it("keeps each metric-math alarm within CloudWatch's limits: 10 metrics, 10 expressions, one returned", () => {
    for (const [id, { Properties: properties }] of resourcesOf(template, 'AWS::CloudWatch::Alarm')) {
      const queries = (properties['Metrics'] ?? []) as Node[];
      if (queries.length === 0) continue;
      assert.ok(queries.filter((q) => q['MetricStat']).length <= 10, id);
      assert.ok(queries.filter((q) => q['Expression']).length <= 10, id);
      assert.equal(queries.filter((q) => q['ReturnData'] !== false).length, 1, id);
    }
  });

  it('pages one SNS topic with every alarm, mailed to AlarmEmail when it is set, and names each after the stack', () => {
    const declared = Object.fromEntries(
      Object.entries(template.Parameters).map(([name, p]) => [name, [p.Type, p.Default]]),
    );
    assert.deepEqual(declared['AlarmEmail'], ['String', '']);
    assert.deepEqual(declared['Max5xxRatePercent'], ['Number', 5]);
    assert.deepEqual(declared['MaxP99LatencySeconds'], ['Number', 2]);
    const [[, subscription] = []] = resourcesOf(template, 'AWS::SNS::Subscription');
    assert.equal(subscription?.Condition, 'HasAlarmEmail');
    assert.deepEqual(subscription.Properties['Endpoint'], { Ref: 'AlarmEmail' });
    assert.deepEqual(subscription.Properties['TopicArn'], { Ref: 'AlarmTopic' });
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
    assert.equal(alarms.length, 7);
    for (const [id, { Properties: properties }] of alarms) {
      assert.deepEqual(properties['AlarmActions'], [{ Ref: 'AlarmTopic' }], id);
      assert.deepEqual(properties['OKActions'], [{ Ref: 'AlarmTopic' }], id);
      assert.match(String((properties['AlarmName'] as Node)['Fn::Sub']), /^\$\{AWS::StackName\}-[a-z0-9-]+$/, id);
      assert.ok(String(properties['AlarmDescription']).length > 40, `${id} says what it means when it fires`);
    }
  });

  it('has a dashboard named after the stack: requests, errors and latency, tasks, CPU and memory, the store', () => {
    const [[, dashboard] = []] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
    assert.deepEqual(dashboard?.Properties['DashboardName'], { 'Fn::Sub': '${AWS::StackName}' });
    const body = dashboardBody(dashboard.Properties); // throws unless JSON once !Sub is resolved
    const shown = new Set(metricUses({ ...template, Resources: { dashboard } }).map((use) => String(use.name)));
    for (const name of [
      'RequestCount',
      'HTTPCode_Target_5XX_Count',
      'HTTPCode_ELB_5XX_Count',
      'TargetResponseTime',
      'UnHealthyHostCount',
      'CPUUtilization',
      'MemoryUtilization',
      'ReadThrottleEvents',
      'WriteThrottleEvents',
    ]) {
      assert.ok(shown.has(name), name);
    }
    // The alarm widget shows every alarm of the stack.
    const widgets = body['widgets'] as { type: string; properties: Node }[];
    const listed = widgets.find((w) => w.type === 'alarm')?.properties['alarms'];
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([id]) => `ref(${id}.Arn)`);
    assert.deepEqual(listed, alarms);
  });
});

describe('the checks are no rubber stamp: the 2018 monitoring stack fails them', () => {
  // infra/monitoring.template.yml of the 2018 series (tag 16-monitoring), cut to the defects; see
  // /work/shared/research/ops-anchors.md §1.
  const monitoring2018 = parseTemplate(`
Parameters:
  SubDomain: { Type: String }
  BaseDomain: { Type: String }
Resources:
  ProductsTable:
    Type: AWS::DynamoDB::Table
    Properties: { BillingMode: PAY_PER_REQUEST }
  UserErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/DynamoDB
      MetricName: UserErrors
      Dimensions: [{ Name: TableName, Value: !Ref ProductsTable }]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  ThrottledRequestsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/DynamoDB
      MetricName: ThrottledRequests
      Dimensions: [{ Name: TableName, Value: !Ref ProductsTable }]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
Outputs:
  Fqdn:
    Value: !Sub "$SubDomain}.\${BaseDomain}"
`);

  it('refuses a UserErrors alarm with a TableName dimension (UserErrors has none)', () => {
    assert.ok(
      metricProblems(monitoring2018).some((p) =>
        p.startsWith('UserErrorsAlarm: AWS/DynamoDB UserErrors by [TableName]'),
      ),
    );
  });

  it('refuses a ThrottledRequests alarm by TableName alone (it is published per TableName and Operation)', () => {
    assert.ok(
      metricProblems(monitoring2018).some((p) =>
        p.startsWith('ThrottledRequestsAlarm: AWS/DynamoDB ThrottledRequests by [TableName]'),
      ),
    );
  });

  it('refuses !Sub "$SubDomain}.${BaseDomain}" (a stray $: the health check targeted a literal host)', () => {
    assert.deepEqual(allSubProblems(monitoring2018), ['stray "$" at 0 in "$SubDomain}.${BaseDomain}"']);
    assert.deepEqual(subProblems('${SubDomain.${BaseDomain}', new Set(['SubDomain', 'BaseDomain'])).length, 1);
    assert.deepEqual(subProblems('${Subdomain}', new Set(['SubDomain'])).length, 1, 'a name the template lacks');
    assert.deepEqual(subProblems('${SubDomain}.${!Literal}.${AWS::Region}', new Set(['SubDomain'])), []);
  });

  it('passes the same alarms once their dimensions are the ones AWS publishes', () => {
    const fixed = structuredClone(monitoring2018);
    const properties = (id: string) => fixed.Resources[id]?.Properties ?? {};
    properties('UserErrorsAlarm')['Dimensions'] = [];
    properties('ThrottledRequestsAlarm')['Dimensions'] = [
      { Name: 'TableName', Value: { Ref: 'ProductsTable' } },
      { Name: 'Operation', Value: 'GetItem' },
    ];
    assert.deepEqual(metricProblems(fixed), []);
  });

  describe('and so does what the 2018 stack did not get wrong but could have', () => {
    const service = loadTemplate('infra/service.template.yml');
    const broken = (change: (template: Template) => void) => {
      const copy = structuredClone(service);
      change(copy);
      return copy;
    };
    const dimensions = (template: Template, id: string) =>
      template.Resources[id]?.Properties['Dimensions'] as { Name: string; Value: unknown }[];

    it("refuses a literal dimension value: another stack's table, or none", () => {
      const template = broken((t) => {
        const metrics = t.Resources['StoreThrottlesAlarm']?.Properties['Metrics'] as Node[];
        const dims = ((metrics[1]?.['MetricStat'] as Node)['Metric'] as Node)['Dimensions'] as Node[];
        (dims[0] as Node)['Value'] = 'products';
      });
      assert.deepEqual(metricProblems(template), [
        'StoreThrottlesAlarm products_getitem: AWS/DynamoDB ThrottledRequests TableName={"literal":"products"} is not a reference to a resource of this stack',
      ]);
    });

    it("refuses !Ref TargetGroup (its ARN) where CloudWatch wants the ARN suffix, and a parameter's value", () => {
      const template = broken((t) => {
        (dimensions(t, 'TargetP99LatencyAlarm')[0] as Node)['Value'] = { Ref: 'TargetGroup' };
        (dimensions(t, 'UnhealthyTargetsAlarm')[0] as Node)['Value'] = { Ref: 'VpcId' };
      });
      assert.deepEqual(
        metricProblems(template).map((p) => p.replace(/=.*? (must|names)/, ' $1')),
        [
          'TargetP99LatencyAlarm: AWS/ApplicationELB TargetResponseTime TargetGroup must be !GetAtt TargetGroup.TargetGroupFullName',
          'UnhealthyTargetsAlarm: AWS/ApplicationELB UnHealthyHostCount TargetGroup names no AWS::ElasticLoadBalancingV2::TargetGroup of this stack',
        ],
      );
    });

    it('refuses a metric the catalogue lacks, an unknown operation and a GSI the table does not have', () => {
      const template = broken((t) => {
        const latency = t.Resources['TargetP99LatencyAlarm']?.Properties ?? {};
        latency['MetricName'] = 'TargetResponseTimes';
        const metrics = t.Resources['StoreSystemErrorsAlarm']?.Properties['Metrics'] as Node[];
        const dims = ((metrics[1]?.['MetricStat'] as Node)['Metric'] as Node)['Dimensions'] as Node[];
        (dims[1] as Node)['Value'] = 'Get';
      });
      assert.deepEqual(metricProblems(template), [
        'TargetP99LatencyAlarm: AWS/ApplicationELB TargetResponseTimes is not in the catalogue',
        'StoreSystemErrorsAlarm products_getitem: AWS/DynamoDB SystemErrors Operation={"literal":"Get"} is no operation',
      ]);
      const dashboard = broken((t) => {
        const properties = t.Resources['Dashboard']?.Properties ?? {};
        const body = (properties['DashboardBody'] as Node)['Fn::Sub'] as string;
        properties['DashboardBody'] = { 'Fn::Sub': body.replaceAll('"PendingOutbox"', '"Pending"') };
      });
      assert.equal(metricProblems(dashboard).length, 2, 'both outbox-index rows');
    });

    it('refuses a dashboard body that is not JSON once !Sub is resolved, and one widget metric of another stack', () => {
      const trailingComma = broken((t) => {
        const properties = t.Resources['Dashboard']?.Properties ?? {};
        const body = (properties['DashboardBody'] as Node)['Fn::Sub'] as string;
        properties['DashboardBody'] = { 'Fn::Sub': body.replace(/\]\s*\}\s*$/, '],}') };
      });
      assert.throws(() => metricProblems(trailingComma), SyntaxError);
      const foreign = broken((t) => {
        const properties = t.Resources['Dashboard']?.Properties ?? {};
        const body = (properties['DashboardBody'] as Node)['Fn::Sub'] as string;
        properties['DashboardBody'] = { 'Fn::Sub': body.replace('"${Cluster}"', '"default"') };
      });
      assert.equal(metricProblems(foreign).length, 1);
    });

    it('refuses a deployment alarm name that is no alarm of the stack', () => {
      const template = broken((t) => {
        const service = t.Resources['Service']?.Properties['DeploymentConfiguration'] as Node;
        (service['Alarms'] as Node)['AlarmNames'] = [{ Ref: 'Target5xxRateAlarm' }, 'product-service-p99'];
      });
      assert.deepEqual(deploymentAlarmProblems(template), [
        'Service: deployment alarm "product-service-p99" is no alarm of this stack',
      ]);
    });
  });
});
