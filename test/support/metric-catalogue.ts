import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
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

/**
 * The service's own metrics (issue #23's contract): what the OpenTelemetry setup emits over OTLP, which the collector
 * sidecar's awsemf exporter writes to CloudWatch. Their dimension sets are not AWS's to document but ours to declare:
 * `ownCatalogue` reads them from the collector config in the template, so that an alarm and that config cannot drift.
 */
export const ownNamespace = 'ProductService';
export const ownMetrics = [
  'http.server.request.duration',
  'product_service.auth.refusals',
  'product_service.keyset.fetches',
  'product_service.keyset.stale_uses',
  'product_service.store.duration',
  'product_service.store.conflicts',
  'product_service.store.unavailable',
  'product_service.outbox.pending',
  'product_service.outbox.oldest_age',
  'product_service.events.published',
] as const;

/** The `outcome` values each metric's contract defines. */
const outcomes: Record<string, string[]> = {
  'product_service.keyset.fetches': ['ok', 'failed'],
  'product_service.store.duration': ['ok', 'error'],
  'product_service.store.conflicts': ['retried', 'exhausted'],
  'product_service.events.published': ['published', 'failed'],
};

/** The closed set of refusal reasons, as packages/bearer/src/refusals.ts declares the RefusalReason union. */
export function refusalReasons(path = 'packages/bearer/src/refusals.ts'): string[] {
  const union = /export type RefusalReason =([^;]+);/.exec(readFileSync(path, 'utf8'))?.[1] ?? '';
  return [...union.matchAll(/\|\s*'([a-z_]+)'/g)].map((match) => match[1] ?? '');
}

/** The collector sidecar's config (its AOT_CONFIG_CONTENT), parsed, with each `${…}` left as the marker `ref(…)`. */
export function collectorConfig(template: Template): Node | undefined {
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::ECS::TaskDefinition') continue;
    for (const container of (resource.Properties['ContainerDefinitions'] ?? []) as Node[]) {
      for (const variable of (container['Environment'] ?? []) as { Name: string; Value: unknown }[]) {
        if (variable.Name !== 'AOT_CONFIG_CONTENT') continue;
        const value = variable.Value as Node | string;
        const text = typeof value === 'string' ? value : value['Fn::Sub'];
        if (typeof text !== 'string') throw new Error('AOT_CONFIG_CONTENT is neither a string nor a !Sub string');
        return parse(text.replace(/\$\{([^}]+)\}/g, 'ref($1)')) as Node;
      }
    }
  }
  return undefined;
}

/** The environment variables of a task definition's container, by name. */
export function containerEnvironment(template: Template, name: string): Record<string, unknown> {
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::ECS::TaskDefinition') continue;
    const containers = (resource.Properties['ContainerDefinitions'] ?? []) as Node[];
    const container = containers.find((c) => c['Name'] === name);
    if (!container) continue;
    const variables = (container['Environment'] ?? []) as { Name: string; Value: unknown }[];
    return Object.fromEntries(variables.map((v) => [v.Name, v.Value]));
  }
  return {};
}

export interface MetricDeclaration {
  dimensions: string[][];
  metric_name_selectors: string[];
}

/** The awsemf exporter's metric declarations; an RE2 `\z` (end of text) read as JavaScript's `$`. */
export function metricDeclarations(config: Node | undefined): MetricDeclaration[] {
  const exporters = (config?.['exporters'] ?? {}) as Node;
  return ((exporters['awsemf'] as Node | undefined)?.['metric_declarations'] ?? []) as MetricDeclaration[];
}

export const selects = (declaration: MetricDeclaration, metric: string) =>
  declaration.metric_name_selectors.some((selector) => new RegExp(selector.replace(/\\z$/, '$')).test(metric));

/** Each own metric with the dimension sets the collector config declares for it (none: CloudWatch never sees it). */
export function ownCatalogue(template: Template): Record<string, string[][]> {
  const declarations = metricDeclarations(collectorConfig(template));
  return Object.fromEntries(
    ownMetrics.map((metric) => [
      metric,
      declarations.filter((declaration) => selects(declaration, metric)).flatMap((d) => d.dimensions),
    ]),
  );
}

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

type Value =
  | { resource: string; attribute: string | undefined }
  | { literal: string }
  | { any: true } // a SEARCH expression's schema dimension that no search term pins
  | { other: unknown };
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

/**
 * The dashboard body, parsed once its !Sub references are replaced (throws if it is not JSON). A !Sub's own variables
 * are put in as text first, a variable that is itself a !Sub string with its references; a variable under Fn::If
 * must be resolved first (`deployed`), for the body is JSON only once each is one branch or the other.
 */
export function dashboardBody(properties: Node): Node {
  const body = properties['DashboardBody'];
  const sub = (body as Node | undefined)?.['Fn::Sub'];
  const [text, variables = {}] =
    typeof body === 'string' ? [body] : Array.isArray(sub) ? (sub as [unknown, Node?]) : [sub];
  if (typeof text !== 'string') throw new Error('DashboardBody is neither a string nor a !Sub string');
  let substituted = text;
  for (const [name, value] of Object.entries(variables)) {
    const inner = typeof value === 'string' ? value : (value as Node | null)?.['Fn::Sub'];
    if (typeof inner !== 'string') {
      throw new Error(`the dashboard's variable ${name} is no string (resolve its conditions with deployed())`);
    }
    substituted = substituted.replaceAll(`\${${name}}`, inner);
  }
  return JSON.parse(resolveSubForJson(substituted)) as Node;
}

/**
 * The metric a dashboard's `SEARCH('{Namespace,"Dim",…} MetricName="m" "Dim"="value"', 'Stat', period)` shows: the
 * schema fixes the namespace and the exact dimension set, a `"Dim"="value"` term pins a value, and a dimension no term
 * pins matches any value.
 */
function searchUse(where: string, expression: string): MetricUse | undefined {
  const match = /^SEARCH\('\{([^}]*)\}(.*)',\s*'[^']+',\s*\d+\)$/s.exec(expression.trim());
  if (!match) return undefined;
  const unquote = (text: string) => text.trim().replace(/^"(.*)"$/, '$1');
  const [namespace = '', ...names] = (match[1] ?? '').split(',').map(unquote);
  const terms = new Map(
    [...(match[2] ?? '').matchAll(/("[^"]+"|[\w.]+)\s*=\s*("[^"]*"|[\w.-]+)/g)].map((m) => [
      unquote(m[1] ?? ''),
      unquote(m[2] ?? ''),
    ]),
  );
  const dimensions = names.map((name) => {
    const pinned = terms.get(name);
    return { name, value: pinned === undefined ? ({ any: true } as const) : dashboardValue(pinned) };
  });
  return { where, namespace, name: terms.get('MetricName'), dimensions };
}

function dashboardUses(id: string, properties: Node): MetricUse[] {
  const widgets = (dashboardBody(properties)['widgets'] ?? []) as Node[];
  return widgets.flatMap((widget, w) => {
    const rows = ((widget['properties'] as Node | undefined)?.['metrics'] ?? []) as unknown[][];
    let previous: unknown[] = [];
    return rows.flatMap((row, r) => {
      if (typeof row[0] === 'object') {
        // A metric-math expression: its inputs are rows of their own, but a SEARCH names its metric itself.
        const expression = (row[0] as Node | null)?.['expression'];
        const search =
          typeof expression === 'string' ? searchUse(`${id} widget ${w} metric ${r}`, expression) : undefined;
        return search ? [search] : [];
      }
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

/**
 * What an own metric's dimension value may be: never another stack's or environment's, and never a value the
 * contract does not define (the alarm would watch a series that never exists). undefined: this dimension's rule.
 */
function ownValueProblem(template: Template, metric: string, name: string, value: Value): string | undefined {
  if (name === 'deployment.environment.name') {
    const ok = 'resource' in value && value.resource === 'EnvironmentName' && value.attribute === undefined;
    return ok ? undefined : "is not this stack's !Ref EnvironmentName";
  }
  if ('any' in value) {
    return name === 'service.name' ? 'matches every service: pin it to OTEL_SERVICE_NAME' : undefined;
  }
  if (!('literal' in value)) return 'is neither a value the metric contract defines nor a search wildcard';
  const allowed: Record<string, () => string[]> = {
    'service.name': () => {
      const service = containerEnvironment(template, 'ProductService')['OTEL_SERVICE_NAME'];
      return typeof service === 'string' ? [service] : [];
    },
    'product_service.auth.refusal': () => refusalReasons(),
    'http.response.status_class': () => ['1xx', '2xx', '3xx', '4xx', '5xx'],
    outcome: () => outcomes[metric] ?? [],
  };
  const values = allowed[name]?.();
  if (!values) return 'has no values the contract defines: use a SEARCH over it';
  return values.includes(value.literal) ? undefined : `is none of ${values.join(', ')}`;
}

/** What is wrong with the metrics a template watches, one sentence per problem; empty when nothing is. */
export function metricProblems(template: Template): string[] {
  const resources: Record<string, Resource | undefined> = template.Resources;
  const own = ownCatalogue(template);
  return metricUses(template).flatMap((use) => {
    const label = `${use.where}: ${String(use.namespace)} ${String(use.name)}`;
    const isOwn = use.namespace === ownNamespace;
    const known = isOwn ? own[String(use.name)] : catalogue[String(use.namespace)]?.metrics[String(use.name)];
    if (!known) return [`${label} is not in the catalogue`];
    const names = use.dimensions.map((d) => d.name);
    if (!known.some((set) => sameSet(set, names))) {
      const sets = known.map((set) => `[${set.join(', ')}]`).join(' or ') || 'no dimension set';
      const publisher = isOwn ? 'the collector config declares it' : 'AWS publishes it';
      return [`${label} by [${names.join(', ')}]: ${publisher} by ${sets}`];
    }
    return use.dimensions.flatMap(({ name, value }) => {
      const what = `${label} ${name}=${JSON.stringify(value)}`;
      if (isOwn) {
        const problem = ownValueProblem(template, String(use.name), name, value);
        return problem ? [`${what} ${problem}`] : [];
      }
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
