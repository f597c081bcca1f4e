import assert from 'node:assert/strict';
import { globSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  deployed,
  joined,
  loadTemplate,
  parseTemplate,
  subProblems,
  subStrings,
  type Node,
  type Template,
} from './support/cloudformation.js';
import {
  catalogue,
  collectorConfig,
  containerEnvironment,
  dashboardBody,
  deploymentAlarmProblems,
  metricDeclarations,
  metricProblems,
  metricUses,
  ownCatalogue,
  ownMetrics,
  ownNamespace,
  refusalReasons,
  selects,
} from './support/metric-catalogue.js';

const templates = globSync('infra/*.template.yml').sort();

function resourcesOf(template: Template, type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function allSubProblems(template: Template): string[] {
  return subStrings(template).flatMap(({ text, known }) => subProblems(text, known));
}

// The service stack and its dashboard's (which imports the service's names) read as one, as deployed with
// Telemetry=on (the alarms and widgets on the service's own metrics included) and with the default, off.
const serviceAndDashboard = () =>
  joined(loadTemplate('infra/service.template.yml'), loadTemplate('infra/dashboard.template.yml'));
const telemetryOn = deployed(serviceAndDashboard(), { Telemetry: 'on' });
const telemetryOff = deployed(serviceAndDashboard());

describe('Alarms and the dashboard', () => {
  const template = telemetryOn;
  const resources = template.Resources;
  const alarm = (id: string) => {
    const found = resources[id];
    assert.ok(found?.Type === 'AWS::CloudWatch::Alarm', `${id} is an alarm`);
    return found.Properties;
  };

  it("catalogue: every AWS metric comes with the AWS page that documents its dimension sets; our own with the collector's", () => {
    for (const [namespace, { source, metrics }] of Object.entries(catalogue)) {
      assert.match(source, /^https:\/\/docs\.aws\.amazon\.com\//, namespace);
      assert.ok(Object.keys(metrics).length > 0, namespace);
    }
    assert.equal(catalogue[ownNamespace], undefined, 'ours are declared by the collector config, not by AWS');
    const own = ownCatalogue(template);
    for (const metric of ownMetrics) assert.ok((own[metric] ?? []).length > 0, `${metric} reaches CloudWatch`);
  });

  for (const [telemetry, deployment] of [
    ['on', telemetryOn],
    ['off', telemetryOff],
  ] as const) {
    it(`Telemetry=${telemetry}: names only metrics and dimension sets AWS publishes or our collector declares, each dimension a resource of this stack or a value the contract defines`, () => {
      assert.ok(
        metricUses(deployment).length >= (telemetry === 'on' ? 30 : 20),
        'the alarms and the dashboard were read',
      );
      assert.deepEqual(metricProblems(deployment), []);
    });
  }

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

  it('watches throttles and system errors for exactly the operations src/products/store/ calls on each table', () => {
    const store = 'src/products/store';
    const code = readdirSync(store)
      .map((name) => readFileSync(`${store}/${name}`, 'utf8'))
      .join('\n');
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
    const [[, subscription] = []] = resourcesOf(loadTemplate('infra/service.template.yml'), 'AWS::SNS::Subscription');
    assert.equal(subscription?.Condition, 'HasAlarmEmail');
    assert.deepEqual(subscription.Properties['Endpoint'], { Ref: 'AlarmEmail' });
    assert.deepEqual(subscription.Properties['TopicArn'], { Ref: 'AlarmTopic' });
    assert.equal(resourcesOf(telemetryOff, 'AWS::CloudWatch::Alarm').length, 7);
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
    assert.equal(alarms.length, 10, 'with Telemetry=on: outbox age, keys unavailable, store unavailable rate');
    for (const [id, { Properties: properties }] of alarms) {
      assert.deepEqual(properties['AlarmActions'], [{ Ref: 'AlarmTopic' }], id);
      assert.deepEqual(properties['OKActions'], [{ Ref: 'AlarmTopic' }], id);
      assert.match(String((properties['AlarmName'] as Node)['Fn::Sub']), /^\$\{AWS::StackName\}-[a-z0-9-]+$/, id);
      assert.ok(String(properties['AlarmDescription']).length > 40, `${id} says what it means when it fires`);
    }
  });

  it('has a dashboard named after the environment: requests, errors and latency, tasks, CPU and memory, the store', () => {
    const [[, dashboard] = []] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
    assert.deepEqual(dashboard?.Properties['DashboardName'], { 'Fn::Sub': 'product-service-${EnvironmentName}' });
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
    // With Telemetry=on: refusals by reason, store latency per operation (p50, p99), the outbox backlog.
    for (const name of [
      'product_service.auth.refusals',
      'product_service.keyset.fetches',
      'product_service.store.duration',
      'product_service.store.unavailable',
      'product_service.outbox.pending',
      'product_service.outbox.oldest_age',
    ]) {
      assert.ok(shown.has(name), name);
    }
    const expressions = JSON.stringify(body);
    assert.match(expressions, /product_service\.store\.duration[^']*', 'p50', 60\)/);
    assert.match(expressions, /product_service\.store\.duration[^']*', 'p99', 60\)/);
    // The alarm widget shows every alarm of the stack, with Telemetry on or off.
    for (const deployment of [telemetryOn, telemetryOff]) {
      const [[, board] = []] = resourcesOf(deployment, 'AWS::CloudWatch::Dashboard');
      const widgets = dashboardBody(board?.Properties ?? {})['widgets'] as { type: string; properties: Node }[];
      const listed = widgets.find((w) => w.type === 'alarm')?.properties['alarms'];
      const alarms = resourcesOf(deployment, 'AWS::CloudWatch::Alarm').map(([id]) => `ref(${id}.Arn)`);
      assert.deepEqual(listed, alarms);
    }
    const [[, off] = []] = resourcesOf(telemetryOff, 'AWS::CloudWatch::Dashboard');
    const offShown = metricUses({ ...telemetryOff, Resources: { off: off as never } });
    assert.ok(
      offShown.every((use) => use.namespace !== ownNamespace),
      'no widget on metrics nobody sends',
    );
  });
});

describe('the dashboard stack and the service stack it shows', () => {
  const service = loadTemplate('infra/service.template.yml');
  const dashboard = loadTemplate('infra/dashboard.template.yml');

  it("imports only names the service stack exports, and the service exports only resources' names, never a parameter", () => {
    assert.doesNotThrow(() => joined(service, dashboard));
    // CloudFormation refuses to change an export another stack imports: an exported threshold could not be tuned.
    for (const [id, output] of Object.entries(service.Outputs)) {
      const { Value: value, Export: exported } = output as Node;
      if (exported === undefined) continue;
      const ref = (value as Node)['Ref'];
      const getAtt = (value as Node)['Fn::GetAtt'] as string[] | undefined;
      const target = typeof ref === 'string' ? ref : getAtt?.[0];
      assert.ok(target !== undefined && target in service.Resources, `${id} exports a resource's name or ARN`);
    }
  });

  it('is no rubber stamp: an import the service stack does not export is refused', () => {
    const renamed = parseTemplate(
      readFileSync('infra/dashboard.template.yml', 'utf8').replace(':Cluster::Name', ':Cluster::Nam'),
    );
    assert.throws(() => joined(service, renamed), /ClusterName imports .*which the service stack does not export/);
  });
});

describe('the collector sidecar sends our metrics the way the alarms read them', () => {
  const config = collectorConfig(telemetryOn) ?? {};
  const exporters = config['exporters'] as Node;
  const awsemf = exporters['awsemf'] as Node;
  const declarations = metricDeclarations(config);

  it('has no collector, and so no config, with Telemetry=off', () => {
    assert.equal(collectorConfig(telemetryOff), undefined);
  });

  it('receives OTLP over HTTP on the loopback address the service exports to, and nowhere else', () => {
    const receivers = config['receivers'] as { otlp: { protocols: Node } };
    assert.deepEqual(Object.keys(receivers), ['otlp']);
    assert.deepEqual(receivers.otlp.protocols, { http: { endpoint: '127.0.0.1:4318' } });
    const app = containerEnvironment(telemetryOn, 'ProductService');
    assert.equal(app['OTEL_EXPORTER_OTLP_ENDPOINT'], 'http://127.0.0.1:4318');
    assert.equal(app['OTEL_EXPORTER_OTLP_PROTOCOL'], 'http/protobuf');
  });

  it('sends traces to X-Ray and metrics to CloudWatch namespace ProductService, through the telemetry log group', () => {
    const pipelines = (config['service'] as { pipelines: Record<string, { exporters: string[] }> }).pipelines;
    assert.deepEqual(pipelines['traces']?.exporters, ['awsxray']);
    assert.deepEqual(pipelines['metrics']?.exporters, ['awsemf']);
    assert.equal(awsemf['namespace'], ownNamespace);
    assert.equal(awsemf['log_group_name'], 'ref(TelemetryLogGroup)');
    // Only the declared sets, none rolled up; service.name, a resource attribute, must become a label to be one.
    assert.equal(awsemf['dimension_rollup_option'], 'NoDimensionRollup');
    assert.deepEqual(awsemf['resource_to_telemetry_conversion'], { enabled: true });
    const processors = config['processors'] as { resource: { attributes: Node[] } };
    assert.deepEqual(processors.resource.attributes, [
      { key: 'deployment.environment.name', value: 'ref(EnvironmentName)', action: 'upsert' },
    ]);
  });

  it("declares every metric of the contract, each selector anchored and matching exactly one, each set this service's and environment's", () => {
    for (const declaration of declarations) {
      for (const selector of declaration.metric_name_selectors) {
        assert.match(selector, /^\^.*\\z$/, `${selector} is anchored at both ends`);
        const matched = ownMetrics.filter((metric) =>
          selects({ ...declaration, metric_name_selectors: [selector] }, metric),
        );
        assert.equal(matched.length, 1, `${selector} selects ${matched.join(', ') || 'nothing'}`);
      }
      for (const set of declaration.dimensions) {
        assert.ok(set.includes('service.name') && set.includes('deployment.environment.name'), set.join());
      }
    }
    const own = ownCatalogue(telemetryOn);
    for (const metric of ownMetrics) assert.ok((own[metric] ?? []).length > 0, metric);
    // What the alarms ask for, by name, as the contract sets them.
    assert.deepEqual(own['product_service.auth.refusals'], [
      ['service.name', 'deployment.environment.name', 'product_service.auth.refusal'],
    ]);
    assert.deepEqual(own['product_service.outbox.oldest_age'], [['service.name', 'deployment.environment.name']]);
    assert.deepEqual(own['product_service.store.unavailable'], [['service.name', 'deployment.environment.name']]);
    assert.deepEqual(own['http.server.request.duration'], [
      ['service.name', 'deployment.environment.name'],
      ['service.name', 'deployment.environment.name', 'http.route', 'http.response.status_class'],
    ]);
  });

  it('alarms on the outbox age, keys_unavailable refusals and the store 503 rate, with their thresholds as parameters', () => {
    const alarms = telemetryOn.Resources;
    const outbox = alarms['OutboxAgeAlarm']?.Properties ?? {};
    assert.equal(outbox['MetricName'], 'product_service.outbox.oldest_age');
    assert.equal(outbox['Statistic'], 'Maximum');
    assert.deepEqual(outbox['Threshold'], { Ref: 'MaxOutboxAgeSeconds' });
    const keys = alarms['KeysUnavailableAlarm']?.Properties ?? {};
    assert.deepEqual(
      [
        keys['Statistic'],
        keys['Threshold'],
        keys['ComparisonOperator'],
        keys['DatapointsToAlarm'],
        keys['EvaluationPeriods'],
      ],
      ['Sum', 1, 'GreaterThanOrEqualToThreshold', 3, 5],
    );
    assert.ok(
      (keys['Dimensions'] as Node[]).some(
        (d) => d['Name'] === 'product_service.auth.refusal' && d['Value'] === 'keys_unavailable',
      ),
    );
    const store = alarms['StoreUnavailableRateAlarm']?.Properties ?? {};
    const queries = store['Metrics'] as Node[];
    assert.equal(
      queries.find((q) => q['ReturnData'] === true)?.['Expression'],
      '100 * FILL(unavailable, 0) / requests',
    );
    const stat = (id: string) => {
      const metricStat = queries.find((q) => q['Id'] === id)?.['MetricStat'] as Node;
      return [metricStat['Stat'], (metricStat['Metric'] as Node)['MetricName']];
    };
    assert.deepEqual(stat('unavailable'), ['Sum', 'product_service.store.unavailable']);
    assert.deepEqual(stat('requests'), ['SampleCount', 'http.server.request.duration']);
    assert.deepEqual(store['Threshold'], { Ref: 'MaxStoreUnavailablePercent' });
    for (const id of ['OutboxAgeAlarm', 'KeysUnavailableAlarm', 'StoreUnavailableRateAlarm']) {
      const raw = loadTemplate('infra/service.template.yml').Resources[id];
      assert.equal(raw?.Condition, 'TelemetryOn', id);
      assert.equal(alarms[id]?.Properties['TreatMissingData'], 'notBreaching', id);
    }
    const parameters = loadTemplate('infra/service.template.yml').Parameters;
    assert.deepEqual(
      ['Telemetry', 'TraceSampleRatio', 'MaxOutboxAgeSeconds', 'MaxStoreUnavailablePercent'].map(
        (name) => parameters[name]?.Default,
      ),
      ['off', '0.05', 300, 1],
    );
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
    const service = telemetryOn;
    const broken = (change: (template: Template) => void) => {
      const copy = structuredClone(service);
      change(copy);
      return copy;
    };
    const dimensions = (template: Template, id: string) =>
      template.Resources[id]?.Properties['Dimensions'] as { Name: string; Value: unknown }[];
    /** Edits the dashboard body's !Sub text (its variables, the telemetry widgets, stay). */
    const editDashboard = (t: Template, edit: (text: string) => string) => {
      const properties = t.Resources['Dashboard']?.Properties ?? {};
      const [text, variables] = (properties['DashboardBody'] as Node)['Fn::Sub'] as [string, Node];
      properties['DashboardBody'] = { 'Fn::Sub': [edit(text), variables] };
    };

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
        editDashboard(t, (body) => body.replaceAll('"PendingOutbox"', '"Pending"'));
      });
      assert.equal(metricProblems(dashboard).length, 2, 'both outbox-index rows');
    });

    it('refuses a dashboard body that is not JSON once !Sub is resolved, and one widget metric of another stack', () => {
      const trailingComma = broken((t) => {
        editDashboard(t, (body) => body.replace(/\]\s*\}\s*$/, '],}'));
      });
      assert.throws(() => metricProblems(trailingComma), SyntaxError);
      const foreign = broken((t) => {
        editDashboard(t, (body) => body.replace('"${Cluster}"', '"default"'));
      });
      assert.equal(metricProblems(foreign).length, 1);
      const unresolved = serviceAndDashboard();
      assert.throws(() => metricProblems(unresolved), /variable TelemetryAlarms is no string/);
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

  describe('and so does an alarm or widget on our own metrics that the collector does not send that way', () => {
    const broken = (change: (template: Template) => void) => {
      const copy = structuredClone(telemetryOn);
      change(copy);
      return copy;
    };
    const dimensionsOf = (t: Template, id: string) =>
      t.Resources[id]?.Properties['Dimensions'] as { Name: string; Value: unknown }[];

    it('refuses a dimension set the collector config does not declare for that metric', () => {
      const template = broken((t) => {
        // Refusals of every reason together: the collector sends refusals by reason only.
        const dims = dimensionsOf(t, 'KeysUnavailableAlarm');
        dims.splice(
          dims.findIndex((d) => d.Name === 'product_service.auth.refusal'),
          1,
        );
      });
      assert.deepEqual(metricProblems(template), [
        'KeysUnavailableAlarm: ProductService product_service.auth.refusals by [service.name, deployment.environment.name]: the collector config declares it by [service.name, deployment.environment.name, product_service.auth.refusal]',
      ]);
    });

    it('refuses an alarm that the collector config no longer sends: the two cannot drift', () => {
      const template = broken((t) => {
        const task = t.Resources['TaskDefinition']?.Properties['ContainerDefinitions'] as Node[];
        const collector = task.find((c) => c['Name'] === 'otel-collector') ?? {};
        const [variable] = collector['Environment'] as { Name: string; Value: { 'Fn::Sub': string } }[];
        assert.equal(variable?.Name, 'AOT_CONFIG_CONTENT');
        variable.Value['Fn::Sub'] = variable.Value['Fn::Sub'].replace(
          'deployment.environment.name, product_service.auth.refusal]',
          'product_service.auth.refusal]',
        );
      });
      const problems = metricProblems(template);
      assert.ok(problems.length >= 2, 'the alarm and the widget');
      assert.ok(
        problems.some((p) => p.startsWith('KeysUnavailableAlarm: ProductService product_service.auth.refusals by')),
      );
    });

    it('refuses a refusal reason packages/bearer/src/refusals.ts does not define, another service and a literal environment', () => {
      assert.ok(refusalReasons().includes('keys_unavailable') && refusalReasons().length > 10);
      const template = broken((t) => {
        const dims = dimensionsOf(t, 'KeysUnavailableAlarm');
        const set = (name: string, value: unknown) => {
          const found = dims.find((d) => d.Name === name);
          assert.ok(found, name);
          found.Value = value;
        };
        set('product_service.auth.refusal', 'key_unavailable');
        set('service.name', 'products');
        set('deployment.environment.name', 'prod');
      });
      assert.deepEqual(
        metricProblems(template).map((p) =>
          p.replace(/^KeysUnavailableAlarm: ProductService product_service\.auth\.refusals /, ''),
        ),
        [
          'service.name={"literal":"products"} is none of product-service',
          'deployment.environment.name={"literal":"prod"} is not this stack\'s !Ref EnvironmentName',
          `product_service.auth.refusal={"literal":"key_unavailable"} is none of ${refusalReasons().join(', ')}`,
        ],
      );
    });

    it('refuses a dashboard SEARCH over a dimension set the collector does not declare, or over every service', () => {
      const template = broken((t) => {
        const properties = t.Resources['Dashboard']?.Properties ?? {};
        const variables = ((properties['DashboardBody'] as Node)['Fn::Sub'] as [string, Node])[1];
        const widgets = variables['TelemetryWidgets'] as { 'Fn::Sub': string };
        widgets['Fn::Sub'] = widgets['Fn::Sub']
          .replace('{ProductService,\\"db.operation.name\\",', '{ProductService,\\"outcome\\",')
          .replace(
            'MetricName=\\"product_service.auth.refusals\\" \\"service.name\\"=\\"product-service\\"',
            'MetricName=\\"product_service.auth.refusals\\"',
          );
      });
      assert.deepEqual(
        metricProblems(template).map((p) => p.replace(/^Dashboard widget \d+ metric \d+: /, '')),
        [
          'ProductService product_service.auth.refusals service.name={"any":true} matches every service: pin it to OTEL_SERVICE_NAME',
          'ProductService product_service.store.duration by [outcome, deployment.environment.name, service.name]: the collector config declares it by [service.name, deployment.environment.name, db.operation.name]',
        ],
      );
    });
  });
});
