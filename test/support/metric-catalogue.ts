import type { Node, Resource, Template } from './cloudformation.js';

/**
 * The CloudWatch metrics this service's alarms and dashboard may use: for each, the dimension sets AWS publishes it
 * with, from the page named. A metric asked for with any other set of dimensions matches nothing: the alarm sits in
 * INSUFFICIENT_DATA (or OK, with notBreaching) forever and the graph is empty. That is how two of the 2018 alarms
 * never fired: `UserErrors` has no TableName dimension, `ThrottledRequests` is per TableName AND Operation.
 */
export const catalogue: Record<string, { source: string; metrics: Record<string, string[][]> }> = {
  'AWS/ApplicationELB': {
    source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html',
    metrics: {
      RequestCount: [
        ['LoadBalancer'],
        ['AvailabilityZone', 'LoadBalancer'],
        ['TargetGroup', 'LoadBalancer'],
        ['TargetGroup', 'AvailabilityZone', 'LoadBalancer'],
      ],
      HTTPCode_Target_5XX_Count: [
        ['LoadBalancer'],
        ['AvailabilityZone', 'LoadBalancer'],
        ['TargetGroup', 'LoadBalancer'],
        ['TargetGroup', 'AvailabilityZone', 'LoadBalancer'],
      ],
      TargetResponseTime: [
        ['LoadBalancer'],
        ['AvailabilityZone', 'LoadBalancer'],
        ['TargetGroup', 'LoadBalancer'],
        ['TargetGroup', 'AvailabilityZone', 'LoadBalancer'],
      ],
      // Answered by the load balancer itself: no target group to count it against.
      HTTPCode_ELB_5XX_Count: [['LoadBalancer'], ['AvailabilityZone', 'LoadBalancer']],
      // Per target group only: a load balancer has no health of its own.
      HealthyHostCount: [
        ['TargetGroup', 'LoadBalancer'],
        ['TargetGroup', 'AvailabilityZone', 'LoadBalancer'],
      ],
      UnHealthyHostCount: [
        ['TargetGroup', 'LoadBalancer'],
        ['TargetGroup', 'AvailabilityZone', 'LoadBalancer'],
      ],
    },
  },
  'AWS/DynamoDB': {
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html',
    metrics: {
      ThrottledRequests: [['TableName', 'Operation']],
      SystemErrors: [['TableName', 'Operation']],
      ReadThrottleEvents: [['TableName'], ['TableName', 'GlobalSecondaryIndexName']],
      WriteThrottleEvents: [['TableName'], ['TableName', 'GlobalSecondaryIndexName']],
      // The account's 400s in the region, all tables together: no dimension at all.
      UserErrors: [[]],
    },
  },
  'AWS/SNS': {
    source: 'https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html',
    metrics: {
      NumberOfMessagesPublished: [['TopicName']],
      NumberOfNotificationsFailed: [['TopicName']],
    },
  },
  'AWS/ECS': {
    source: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html',
    metrics: {
      // ClusterName alone is the EC2 container instances' figure; a Fargate service has only the pair.
      CPUUtilization: [['ClusterName'], ['ClusterName', 'ServiceName']],
      MemoryUtilization: [['ClusterName'], ['ClusterName', 'ServiceName']],
    },
  },
};

// The operations DynamoDB publishes ThrottledRequests and SystemErrors for (the same page, "Operation").
export const dynamoDbOperations = [
  'PutItem',
  'DeleteItem',
  'UpdateItem',
  'GetItem',
  'BatchGetItem',
  'Scan',
  'Query',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
  'ExecuteTransaction',
  'BatchExecuteStatement',
  'ExecuteStatement',
];

/**
 * What each dimension's value must be: the resource of this stack it names, by the reference that yields what
 * CloudWatch expects (the ARN suffix `app/…` for a load balancer, not its ARN, which `!Ref` gives). Never a literal,
 * which would watch some other stack's resource, or none.
 */
const dimensionValues: Record<string, { type: string; attribute: string | undefined }> = {
  LoadBalancer: { type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', attribute: 'LoadBalancerFullName' },
  TargetGroup: { type: 'AWS::ElasticLoadBalancingV2::TargetGroup', attribute: 'TargetGroupFullName' },
  TableName: { type: 'AWS::DynamoDB::Table', attribute: undefined },
  TopicName: { type: 'AWS::SNS::Topic', attribute: 'TopicName' },
  ClusterName: { type: 'AWS::ECS::Cluster', attribute: undefined },
  ServiceName: { type: 'AWS::ECS::Service', attribute: 'Name' },
};

type Value = { resource: string; attribute: string | undefined } | { literal: string } | { other: unknown };
export interface MetricUse {
  where: string;
  namespace: unknown;
  name: unknown;
  dimensions: { name: string; value: Value }[];
}

/** A dimension value as the template writes it: `!Ref X`, `!GetAtt X.A`, `!Sub '${X.A}'`, or a literal. */
function templateValue(value: unknown): Value {
  if (typeof value === 'string') return { literal: value };
  const node = (value ?? {}) as Node;
  if (typeof node['Ref'] === 'string') return { resource: node['Ref'], attribute: undefined };
  const getAtt = node['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
    return { resource: getAtt[0], attribute: typeof getAtt[1] === 'string' ? getAtt[1] : undefined };
  }
  const sub = node['Fn::Sub'];
  if (typeof sub === 'string') return dashboardValue(sub.replace(/^\$\{([^${}]+)\}$/, 'ref($1)'));
  return { other: value };
}

/** A dimension value in a dashboard body, where `sub-resolved` turned each `${X.A}` into `ref(X.A)`. */
function dashboardValue(value: unknown): Value {
  if (typeof value !== 'string') return { other: value };
  const match = /^ref\(([^.()]+)(?:\.([^()]+))?\)$/.exec(value);
  if (!match) return value.includes('ref(') ? { other: value } : { literal: value };
  return { resource: match[1] ?? '', attribute: match[2] };
}

/**
 * A !Sub body with each `${…}` replaced so that it still parses as JSON: inside a JSON string by the marker
 * `ref(…)`, outside one (a number, as the dashboard's threshold annotations) by 0.
 */
export function resolveSubForJson(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '$' && text[i + 1] === '{') {
      const end = text.indexOf('}', i);
      if (end === -1) return out + text.slice(i); // unbalanced: JSON.parse says where
      const name = text.slice(i + 2, end);
      out += inString ? `ref(${name})` : '0';
      i = end;
      continue;
    }
    if (c === '"') inString = !inString;
    if (c === '\\' && inString) {
      out += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

function alarmUses(id: string, properties: Node): MetricUse[] {
  const dimensionsOf = (dimensions: unknown) =>
    ((dimensions ?? []) as { Name: string; Value: unknown }[]).map((d) => ({
      name: d.Name,
      value: templateValue(d.Value),
    }));
  if (properties['MetricName'] !== undefined) {
    return [
      {
        where: id,
        namespace: properties['Namespace'],
        name: properties['MetricName'],
        dimensions: dimensionsOf(properties['Dimensions']),
      },
    ];
  }
  return ((properties['Metrics'] ?? []) as Node[]).flatMap((query) => {
    const metric = (query['MetricStat'] as Node | undefined)?.['Metric'] as Node | undefined;
    if (!metric) return [];
    return [
      {
        where: `${id} ${String(query['Id'])}`,
        namespace: metric['Namespace'],
        name: metric['MetricName'],
        dimensions: dimensionsOf(metric['Dimensions']),
      },
    ];
  });
}

/** The dashboard body, parsed once its !Sub references are replaced (throws if it is not JSON). */
export function dashboardBody(properties: Node): Node {
  const body = properties['DashboardBody'];
  const sub = (body as Node | undefined)?.['Fn::Sub'];
  const text = typeof body === 'string' ? body : Array.isArray(sub) ? (sub as unknown[])[0] : sub;
  if (typeof text !== 'string') throw new Error('DashboardBody is neither a string nor a !Sub string');
  return JSON.parse(resolveSubForJson(text)) as Node;
}

function dashboardUses(id: string, properties: Node): MetricUse[] {
  const widgets = (dashboardBody(properties)['widgets'] ?? []) as Node[];
  return widgets.flatMap((widget, w) => {
    const rows = ((widget['properties'] as Node | undefined)?.['metrics'] ?? []) as unknown[][];
    let previous: unknown[] = [];
    return rows.flatMap((row, r) => {
      if (typeof row[0] === 'object') return []; // a metric-math expression: its inputs are rows of their own
      const options = typeof row[row.length - 1] === 'object' ? 1 : 0;
      // "." repeats the previous row's value in that position (CloudWatch's dashboard shorthand).
      const cells = row.slice(0, row.length - options).map((cell, i) => (cell === '.' ? previous[i] : cell));
      previous = cells;
      const dimensions = [];
      for (let i = 2; i + 1 < cells.length; i += 2) {
        dimensions.push({ name: String(cells[i]), value: dashboardValue(cells[i + 1]) });
      }
      return [{ where: `${id} widget ${w} metric ${r}`, namespace: cells[0], name: cells[1], dimensions }];
    });
  });
}

/** Every metric the template's alarms (and their metric-math inputs) and dashboards name. */
export function metricUses(template: Template): MetricUse[] {
  return Object.entries(template.Resources).flatMap(([id, resource]) => {
    if (resource.Type === 'AWS::CloudWatch::Alarm') return alarmUses(id, resource.Properties);
    if (resource.Type === 'AWS::CloudWatch::Dashboard') return dashboardUses(id, resource.Properties);
    return [];
  });
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** What is wrong with the metrics a template watches, one sentence per problem; empty when nothing is. */
export function metricProblems(template: Template): string[] {
  const resources: Record<string, Resource | undefined> = template.Resources;
  return metricUses(template).flatMap((use) => {
    const label = `${use.where}: ${String(use.namespace)} ${String(use.name)}`;
    const known = catalogue[String(use.namespace)]?.metrics[String(use.name)];
    if (!known) return [`${label} is not in the catalogue`];
    const names = use.dimensions.map((d) => d.name);
    if (!known.some((set) => sameSet(set, names))) {
      const sets = known.map((set) => `[${set.join(', ')}]`).join(' or ');
      return [`${label} by [${names.join(', ')}]: AWS publishes it by ${sets}`];
    }
    return use.dimensions.flatMap(({ name, value }) => {
      const what = `${label} ${name}=${JSON.stringify(value)}`;
      if (name === 'Operation') {
        return 'literal' in value && dynamoDbOperations.includes(value.literal) ? [] : [`${what} is no operation`];
      }
      if (name === 'GlobalSecondaryIndexName') {
        // An index name has no reference of its own: it must be an index of the table the same metric names.
        const table = use.dimensions.find((d) => d.name === 'TableName')?.value;
        const indexes = (table && 'resource' in table ? resources[table.resource]?.Properties : undefined)?.[
          'GlobalSecondaryIndexes'
        ] as { IndexName: string }[] | undefined;
        const ok = 'literal' in value && (indexes ?? []).some((index) => index.IndexName === value.literal);
        return ok ? [] : [`${what} is no index of that table`];
      }
      const expected = dimensionValues[name];
      if (!expected) return [`${what}: no rule for this dimension's value`];
      if (!('resource' in value)) return [`${what} is not a reference to a resource of this stack`];
      const resource = resources[value.resource];
      if (resource?.Type !== expected.type) return [`${what} names no ${expected.type} of this stack`];
      if (value.attribute !== expected.attribute) {
        const want = expected.attribute ? `!GetAtt ${value.resource}.${expected.attribute}` : `!Ref ${value.resource}`;
        return [`${what} must be ${want}`];
      }
      return [];
    });
  });
}

/** Each ECS service's deployment alarm names must be alarms of this stack, or ECS watches nothing. */
export function deploymentAlarmProblems(template: Template): string[] {
  const alarms = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::ECS::Service')
    .flatMap(([id, service]) => {
      const configuration = (service.Properties['DeploymentConfiguration'] ?? {}) as Node;
      const names = ((configuration['Alarms'] as Node | undefined)?.['AlarmNames'] ?? []) as unknown[];
      return names.flatMap((name) => {
        const ref = (name as Node | undefined)?.['Ref'];
        const resolves = alarms.some(
          ([alarmId, alarm]) =>
            ref === alarmId || JSON.stringify(alarm.Properties['AlarmName']) === JSON.stringify(name),
        );
        return resolves ? [] : [`${id}: deployment alarm ${JSON.stringify(name)} is no alarm of this stack`];
      });
    });
}
