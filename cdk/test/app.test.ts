import { Match } from 'aws-cdk-lib/assertions';
import { requestModels, documentedRoutes, loadOpenApi } from '../lib/api-models';
import { THROTTLE } from '../lib/app-stack';
import {
  ENI_STATEMENT,
  XRAY_STATEMENT,
  logicalIdByPath,
  ownLogsStatement,
  pathOf,
  resolveCrossStack,
  resourcesOf,
  roleStatements,
  type Synthesised,
  synthBookstore,
} from './helpers';

let s: Synthesised;
beforeAll(() => {
  s = synthBookstore();
});

/** The routes of the issue, written out here rather than read from lib/ so the test checks the table. */
const EXPECTED_ROUTES: [fn: 'BooksFunction' | 'ReviewsFunction', method: string, path: string][] = [
  ['BooksFunction', 'GET', '/book'],
  ['BooksFunction', 'POST', '/book'],
  ['BooksFunction', 'PUT', '/book'],
  ['BooksFunction', 'GET', '/book/{id}'],
  ['BooksFunction', 'PATCH', '/book/{id}'],
  ['BooksFunction', 'DELETE', '/book/{id}'],
  ['ReviewsFunction', 'GET', '/review'],
  ['ReviewsFunction', 'POST', '/review'],
  ['ReviewsFunction', 'PUT', '/review'],
  ['ReviewsFunction', 'GET', '/review/{id}'],
  ['ReviewsFunction', 'PATCH', '/review/{id}'],
  ['ReviewsFunction', 'DELETE', '/review/{id}'],
  ['ReviewsFunction', 'GET', '/book/{id}/reviews'],
];

const FUNCTIONS = ['BooksFunction', 'ReviewsFunction'] as const;
const fnId = (name: string) => logicalIdByPath(s.api, 'AWS::Lambda::Function', `/${name}/Fn/Function/Resource`);
const aliasId = (name: string) => logicalIdByPath(s.api, 'AWS::Lambda::Alias', `/${name}/Live/Resource`);
const fnResource = (name: string) => s.api.toJSON().Resources[fnId(name)];
const resolveAll = (values: Record<string, any>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, resolveCrossStack(s, v)]));

describe.each(FUNCTIONS)('%s', (name) => {
  test('is the provided.al2023 x86_64 bootstrap', () => {
    const fn = fnResource(name);
    expect(fn.Properties).toMatchObject({ Runtime: 'provided.al2023', Architectures: ['x86_64'], Handler: 'bootstrap' });
  });

  test('runs in the isolated Functions subnets, wearing only the proxy-client security group', () => {
    const vpc = fnResource(name).Properties.VpcConfig;
    const subnets = vpc.SubnetIds.map((id: any) => resolveCrossStack(s, id));
    expect(subnets.map((r: any) => pathOf(s.network, r.Ref)).sort()).toEqual([
      'Bookstore-Network/Vpc/FunctionsSubnet1/Subnet',
      'Bookstore-Network/Vpc/FunctionsSubnet2/Subnet',
    ]);
    const groups = vpc.SecurityGroupIds.map((id: any) => resolveCrossStack(s, id));
    expect(groups).toHaveLength(1);
    expect(pathOf(s.database, groups[0]['Fn::GetAtt'][0])).toBe('Bookstore-Database/ProxyClientSg/Resource');
  });

  test('reads the database through the proxy as bookstore_app, with IAM tokens and verified TLS', () => {
    const env = resolveAll(fnResource(name).Properties.Environment.Variables);
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    expect(env.DB_HOST).toEqual({ 'Fn::GetAtt': [proxyId, 'Endpoint'] });
    // The proxy's read-only endpoint (the config has a reader).
    const readerId = logicalIdByPath(s.database, 'AWS::RDS::DBProxyEndpoint', '/ProxyReader');
    expect(env.DB_READER_HOST).toEqual({ 'Fn::GetAtt': [readerId, 'Endpoint'] });
    expect({ ...env, DB_HOST: undefined, DB_READER_HOST: undefined }).toEqual({
      DB_HOST: undefined,
      DB_READER_HOST: undefined,
      DB_PORT: '5432',
      DB_NAME: 'bookstore',
      DB_USER: 'bookstore_app',
      DB_IAM_AUTH: 'true',
      DB_SSLMODE: 'verify-full',
      DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
      PGTZ: 'UTC',
      RUST_LOG: 'info',
    });
  });

  test("may connect to the proxy as bookstore_app, write its own logs and manage its ENIs: nothing else", () => {
    const fn = fnResource(name);
    const logGroupId = logicalIdByPath(s.api, 'AWS::Logs::LogGroup', `/${name}/Fn/Logs/Resource`);
    const statements = roleStatements(s.api, fn.Properties.Role['Fn::GetAtt'][0]);
    expect(statements).toEqual([
      ENI_STATEMENT,
      ownLogsStatement(logGroupId),
      XRAY_STATEMENT,
      {
        Sid: 'ConnectToProxyAsAppRole',
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: expect.anything(),
      },
    ]);
    // The connect resource is the proxy's db user bookstore_app: prx-<id>/bookstore_app.
    const connect = resolveCrossStack(s, statements[3].Resource);
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    const rendered = JSON.stringify(connect);
    expect(rendered).toContain(':dbuser:');
    expect(rendered).toContain(`{"Fn::GetAtt":["${proxyId}","DBProxyArn"]}`);
    expect(rendered).toContain('"/bookstore_app"');
  });
});

describe('deploy ordering', () => {
  test('the app functions depend on the migrate trigger (construct level)', () => {
    const trigger = s.stacks.database.migrateTrigger;
    for (const f of Object.values(s.stacks.app.functions)) {
      expect(f.fn.node.dependencies).toContain(trigger);
    }
  });

  test('so the app stack deploys only after the database stack (and its trigger) finished', () => {
    const app = s.assembly.getStackByName(s.stacks.app.stackName);
    expect(app.dependencies.map((d) => d.id)).toEqual(expect.arrayContaining(['Bookstore-Database', 'Bookstore-Network']));
    const database = s.assembly.getStackByName(s.stacks.database.stackName);
    expect(database.dependencies.map((d) => d.id)).not.toContain('Bookstore-App');
  });
});

describe('REST API', () => {
  /** Full path of an AWS::ApiGateway::Resource, following ParentId up to the root. */
  const fullPath = (resourceId: string): string => {
    const resources = s.api.toJSON().Resources;
    const r = resources[resourceId];
    const parent = r.Properties.ParentId;
    const prefix = parent['Fn::GetAtt'] ? '' : fullPath(parent.Ref);
    return `${prefix}/${r.Properties.PathPart}`;
  };
  const routes = () =>
    resourcesOf(s.api, 'AWS::ApiGateway::Method').map(([id, m]) => {
      const resourceRef = m.Properties.ResourceId;
      const path = resourceRef.Ref ? fullPath(resourceRef.Ref) : '/';
      const uri = JSON.stringify(m.Properties.Integration.Uri);
      const fn = FUNCTIONS.find((f) => uri.includes(`"${aliasId(f)}"`));
      return { id, fn, method: m.Properties.HttpMethod as string, path, props: m.Properties };
    });

  test('wires every route of the issue to its function, and no other route', () => {
    const actual = routes().map((r) => [r.fn, r.method, r.path]);
    expect(actual.sort()).toEqual([...EXPECTED_ROUTES].sort());
  });

  test('uses Lambda proxy integration for every route', () => {
    for (const r of routes()) {
      expect(r.props.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    }
  });

  test('invokes the live alias of each function, never $LATEST', () => {
    for (const r of routes()) {
      const uri = JSON.stringify(r.props.Integration.Uri);
      expect(uri).toContain(`{"Ref":"${aliasId(r.fn!)}"}`);
      expect(uri).not.toContain(`"${fnId(r.fn!)}"`);
    }
  });

  test('lets API Gateway invoke each function only for its own routes, on the deployed stage', () => {
    const stageId = logicalIdByPath(s.api, 'AWS::ApiGateway::Stage', '/Api/DeploymentStage.prod/Resource');
    const granted = resourcesOf(s.api, 'AWS::Lambda::Permission').map(([, p]) => {
      expect(p.Properties).toMatchObject({ Principal: 'apigateway.amazonaws.com', Action: 'lambda:InvokeFunction' });
      const parts: any[] = p.Properties.SourceArn['Fn::Join'][1];
      expect(parts.slice(-3, -1)).toEqual(['/', { Ref: stageId }]);
      // Invoke permission on the alias: the version behind it may change, the permission stays.
      const fn = FUNCTIONS.find((f) => p.Properties.FunctionName.Ref === aliasId(f));
      return [fn, parts[parts.length - 1]];
    });
    const expected = EXPECTED_ROUTES.map(([fn, method, path]) => [fn, `/${method}${path.replace(/\{[^}]+\}/g, '*')}`]);
    expect(granted.sort()).toEqual(expected.sort());
  });

  test('declares every parameter the validator checks: path parameters required, query parameters optional', () => {
    const declared = Object.fromEntries(routes().map((r) => [`${r.method} ${r.path}`, r.props.RequestParameters ?? {}]));
    const id = { 'method.request.path.id': true };
    const page = { 'method.request.querystring.limit': false, 'method.request.querystring.after': false };
    expect(declared).toEqual({
      'GET /book': { ...page, 'method.request.querystring.author': false, 'method.request.querystring.title': false },
      'POST /book': {},
      'PUT /book': {},
      'GET /book/{id}': id,
      'PATCH /book/{id}': id,
      'DELETE /book/{id}': id,
      'GET /review': { ...page, 'method.request.querystring.book_id': false },
      'POST /review': {},
      'PUT /review': {},
      'GET /review/{id}': id,
      'PATCH /review/{id}': id,
      'DELETE /review/{id}': id,
      'GET /book/{id}/reviews': { ...id, ...page },
    });
  });

  test('validates a required JSON body on POST, PUT and PATCH against the function input shape', () => {
    const validators = resourcesOf(s.api, 'AWS::ApiGateway::RequestValidator');
    expect(validators).toHaveLength(1);
    const [[validatorId, validator]] = validators;
    expect(validator.Properties).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    const models = s.api.toJSON().Resources;
    const required = (modelRef: any) => models[modelRef.Ref].Properties.Schema.required;
    for (const r of routes()) {
      if (r.method === 'GET' || r.method === 'DELETE') {
        expect(r.props.RequestModels).toBeUndefined();
        // Only routes that declare a parameter are validated.
        expect(r.props.RequestValidatorId).toEqual(r.props.RequestParameters ? { Ref: validatorId } : undefined);
        continue;
      }
      expect(r.props.RequestValidatorId).toEqual({ Ref: validatorId });
      const model = r.props.RequestModels['application/json'];
      expect(models[model.Ref].Properties.Schema.type).toBe('object');
      const expected: Record<string, string[] | undefined> = {
        '/book': ['title', 'author', 'publisher', 'year'],
        '/review': ['book_id', 'reviewer', 'rate'],
        // PATCH: every field optional.
        '/book/{id}': undefined,
        '/review/{id}': undefined,
      };
      expect(required(model)).toEqual(expected[r.path]);
    }
  });

  test("answers a refused body in the functions' error shape", () => {
    s.api.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      ResponseTemplates: {
        'application/json': '{"error":{"code":"invalid_body","message":$context.error.messageString}}',
      },
    });
  });

  test('writes JSON access logs to a retained log group, and execution errors', () => {
    const [[, stage]] = resourcesOf(s.api, 'AWS::ApiGateway::Stage');
    expect(stage.Properties.StageName).toBe('prod');
    const destination = JSON.stringify(stage.Properties.AccessLogSetting.DestinationArn);
    expect(destination).toContain(logicalIdByPath(s.api, 'AWS::Logs::LogGroup', '/ApiAccessLogs/Resource'));
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(stage.Properties.MethodSettings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true }),
      ]),
    );
    s.api.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  test('outputs the API URL with the stage', () => {
    s.api.hasOutput('ApiUrl', {
      Value: { 'Fn::Join': ['', Match.arrayWith(['https://', '/', { Ref: Match.stringLikeRegexp('ApiDeploymentStageprod') }, '/'])] },
    });
  });
});

describe('connection budget, tracing and logs of each function', () => {
  test.each([
    ['BooksFunction', 20],
    ['ReviewsFunction', 20],
  ])('%s has reserved concurrency %i, active tracing and JSON logs', (name, reserved) => {
    expect(fnResource(name).Properties).toMatchObject({
      ReservedConcurrentExecutions: reserved,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON', SystemLogLevel: 'INFO', ApplicationLogLevel: 'INFO' },
    });
  });

  test('the stage is traced too', () => {
    s.api.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
  });

  test('outputs each function log group by name', () => {
    for (const name of FUNCTIONS) {
      const logGroupId = logicalIdByPath(s.api, 'AWS::Logs::LogGroup', `/${name}/Fn/Logs/Resource`);
      s.api.hasOutput(name.replace('Function', 'LogGroup'), { Value: { Ref: logGroupId } });
    }
  });
});

describe('safe deploys', () => {
  test.each(FUNCTIONS)('%s: a live alias on the current version, moved by a CodeDeploy canary', (name) => {
    const alias = s.api.toJSON().Resources[aliasId(name)];
    expect(alias.Properties.Name).toBe('live');
    expect(alias.Properties.FunctionVersion['Fn::GetAtt'][1]).toBe('Version');
    const groupId = logicalIdByPath(s.api, 'AWS::CodeDeploy::DeploymentGroup', `/${name}/Deployment/Resource`);
    expect(alias.UpdatePolicy.CodeDeployLambdaAliasUpdate.DeploymentGroupName).toEqual({ Ref: groupId });
  });

  test.each(FUNCTIONS)('%s: the canary rolls back on its alias errors and on the API 5xx rate', (name) => {
    const groupId = logicalIdByPath(s.api, 'AWS::CodeDeploy::DeploymentGroup', `/${name}/Deployment/Resource`);
    const group = s.api.toJSON().Resources[groupId];
    expect(JSON.stringify(group.Properties.DeploymentConfigName)).toContain('Canary10Percent5Minutes');
    expect(group.Properties.AutoRollbackConfiguration).toEqual({
      Enabled: true,
      Events: expect.arrayContaining(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM']),
    });
    expect(group.Properties.AlarmConfiguration.Enabled).toBe(true);
    const alarms = group.Properties.AlarmConfiguration.Alarms.map((a: any) => a.Name.Ref);
    expect(alarms.sort()).toEqual(
      [
        logicalIdByPath(s.api, 'AWS::CloudWatch::Alarm', `/${name}/AliasErrors/Resource`),
        logicalIdByPath(s.api, 'AWS::CloudWatch::Alarm', '/ApiServerErrorRateAlarm/Resource'),
      ].sort(),
    );
    // Alias errors: the alias's own dimension, so the old version's traffic does not count.
    const aliasAlarm = s.api.toJSON().Resources[alarms.find((id: string) => id.includes('AliasErrors'))];
    expect(aliasAlarm.Properties.Dimensions).toEqual(
      expect.arrayContaining([{ Name: 'Resource', Value: expect.anything() }, { Name: 'FunctionName', Value: { Ref: fnId(name) } }]),
    );
  });

  test('-c bookstore:canary=all-at-once switches every function at once (test environments)', () => {
    const quick = synthBookstore({ 'bookstore:canary': 'all-at-once' });
    quick.api.allResourcesProperties('AWS::CodeDeploy::DeploymentGroup', {
      DeploymentConfigName: Match.stringLikeRegexp('AllAtOnce'),
    });
  });
});

describe('alarms and the dashboard', () => {
  test('the API 5xx alarm is the rate (Average of 5XXError) of this API and stage, above 1%', () => {
    s.api.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Statistic: 'Average',
      Threshold: 0.01,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: Match.arrayWith([{ Name: 'ApiName', Value: 'Bookstore-bookstore' }, { Name: 'Stage', Value: 'prod' }]),
    });
    s.api.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: 2000 });
  });

  test.each(FUNCTIONS)('%s has alarms on errors, throttles and p99 duration against its timeout', (name) => {
    const alarm = (suffix: string) => s.api.toJSON().Resources[logicalIdByPath(s.api, 'AWS::CloudWatch::Alarm', `/${name}/${suffix}/Resource`)].Properties;
    expect(alarm('Errors')).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 0 });
    expect(alarm('Throttles')).toMatchObject({ MetricName: 'Throttles', Threshold: 0 });
    const timeoutMs = fnResource(name).Properties.Timeout * 1000;
    expect(alarm('Duration')).toMatchObject({ MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: timeoutMs * 0.8 });
  });

  test('every alarm of the app stack notifies the alarm topic of the database stack, on alarm and on recovery', () => {
    const alarms = resourcesOf(s.api, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(10);
    const topicId = logicalIdByPath(s.database, 'AWS::SNS::Topic', '/AlarmTopic/Resource');
    for (const [, a] of alarms) {
      expect(a.Properties.AlarmActions.map((v: any) => resolveCrossStack(s, v))).toEqual([{ Ref: topicId }]);
      expect(a.Properties.OKActions.map((v: any) => resolveCrossStack(s, v))).toEqual([{ Ref: topicId }]);
    }
  });

  test('one dashboard shows the API, the functions, the proxy and Aurora', () => {
    s.api.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [[, dashboard]] = resourcesOf(s.api, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of ['5XXError', 'Latency', 'Throttles', 'ConcurrentExecutions', 'DatabaseConnectionsCurrentlySessionPinned', 'ServerlessDatabaseCapacity']) {
      expect(body).toContain(metric);
    }
  });

  test('saved Logs Insights queries: errors by code over the functions, slow requests over the access log', () => {
    const queries = Object.fromEntries(resourcesOf(s.api, 'AWS::Logs::QueryDefinition').map(([, q]) => [q.Properties.Name, q.Properties]));
    expect(Object.keys(queries).sort()).toEqual(['Bookstore-App/errors-by-code', 'Bookstore-App/slow-requests']);
    expect(queries['Bookstore-App/errors-by-code'].QueryString).toContain('by `error.code`');
    expect(queries['Bookstore-App/errors-by-code'].LogGroupNames).toHaveLength(2);
    expect(queries['Bookstore-App/slow-requests'].QueryString).toContain('sort responseLatency desc');
  });
});

describe('edge protection', () => {
  test('a regional web ACL rate-limits per IP (writes tighter) and runs AWS managed rule groups', () => {
    const [[aclId, acl], ...more] = resourcesOf(s.api, 'AWS::WAFv2::WebACL');
    expect(more).toEqual([]);
    expect(acl.Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    const rules = Object.fromEntries(acl.Properties.Rules.map((r: any) => [r.Name, r]));
    expect(rules.RatePerIp.Statement.RateBasedStatement).toMatchObject({ Limit: 1000, AggregateKeyType: 'IP' });
    expect(rules.WriteRatePerIp.Statement.RateBasedStatement).toMatchObject({ Limit: 200, AggregateKeyType: 'IP' });
    expect(JSON.stringify(rules.WriteRatePerIp.Statement.RateBasedStatement.ScopeDownStatement)).toMatch(/"POST".*"PUT".*"PATCH".*"DELETE"/);
    for (const name of ['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesAmazonIpReputationList']) {
      expect(rules[name].Statement.ManagedRuleGroupStatement).toEqual({ VendorName: 'AWS', Name: name });
    }
    const stageId = logicalIdByPath(s.api, 'AWS::ApiGateway::Stage', '/Api/DeploymentStage.prod/Resource');
    const [[, association]] = resourcesOf(s.api, 'AWS::WAFv2::WebACLAssociation');
    expect(association.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    expect(JSON.stringify(association.Properties.ResourceArn)).toContain(`{"Ref":"${stageId}"}`);
  });

  test('every write route has a lower per-method throttle than the stage', () => {
    const [[, stage]] = resourcesOf(s.api, 'AWS::ApiGateway::Stage');
    const settings = stage.Properties.MethodSettings;
    expect(settings.find((m: any) => m.HttpMethod === '*')).toMatchObject({ ThrottlingRateLimit: THROTTLE.rate, ThrottlingBurstLimit: THROTTLE.burst });
    const writes = settings.filter((m: any) => m.HttpMethod !== '*').map((m: any) => `${m.HttpMethod} ${m.ResourcePath}`);
    expect(writes.sort()).toEqual([
      'DELETE /~1book~1{id}',
      'DELETE /~1review~1{id}',
      'PATCH /~1book~1{id}',
      'PATCH /~1review~1{id}',
      'POST /~1book',
      'POST /~1review',
      'PUT /~1book',
      'PUT /~1review',
    ]);
    for (const m of settings.filter((x: any) => x.HttpMethod !== '*')) {
      expect(m.ThrottlingRateLimit).toBeLessThan(THROTTLE.rate);
      expect(m.ThrottlingBurstLimit).toBeLessThan(THROTTLE.burst);
    }
  });
});

describe('the API from docs/openapi.json', () => {
  const doc = loadOpenApi();

  test('has a route for every operation of the document, served by the function its tag names', () => {
    const fromDoc = documentedRoutes(doc).map((r) => [r.fn === 'books' ? 'BooksFunction' : 'ReviewsFunction', r.method, r.path]);
    expect(fromDoc.sort()).toEqual([...EXPECTED_ROUTES].sort());
  });

  test('builds each request model from its schema: the JSON types and required fields, nothing hand-written', () => {
    const models = requestModels(doc);
    expect(Object.keys(models).sort()).toEqual(['BookChanges', 'NewBook', 'NewReview', 'ReviewChanges']);
    expect(models.NewBook.schema).toMatchObject({
      type: 'object',
      required: ['title', 'author', 'publisher', 'year'],
      properties: { title: { type: 'string' }, author: { type: 'string' }, publisher: { type: 'string' }, year: { type: 'integer' } },
    });
    expect(models.NewReview.schema.properties!.review).toEqual({ type: ['string', 'null'] });
    expect(models.ReviewChanges.schema.required).toBeUndefined();
    // A field the document adds appears in the model without touching lib/.
    const grown = JSON.parse(JSON.stringify(doc));
    grown.components.schemas.NewBook.properties.isbn = { type: 'string' };
    expect(requestModels(grown).NewBook.schema.properties!.isbn).toEqual({ type: 'string' });
  });

  test('refuses a document whose operation names no function', () => {
    const broken = JSON.parse(JSON.stringify(doc));
    delete broken.paths['/book'].get.tags;
    expect(() => documentedRoutes(broken)).toThrow(/get \/book must have exactly one tag/);
  });
});

describe('with bookstore:corsAllowedOrigins', () => {
  let c: Synthesised;
  beforeAll(() => {
    c = synthBookstore({ 'bookstore:corsAllowedOrigins': 'https://shop.example.com,http://localhost:5173' });
  });

  test('gives both functions CORS_ALLOWED_ORIGINS and routes OPTIONS on their paths to them', () => {
    const functions = resourcesOf(c.api, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.DB_HOST);
    expect(functions).toHaveLength(2);
    for (const [, f] of functions) {
      expect(f.Properties.Environment.Variables.CORS_ALLOWED_ORIGINS).toBe('https://shop.example.com,http://localhost:5173');
    }
    const options = resourcesOf(c.api, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS');
    expect(options).toHaveLength(new Set(EXPECTED_ROUTES.map(([, , p]) => p)).size);
  });

  test('is off by default: no variable, no OPTIONS route', () => {
    const functions = resourcesOf(s.api, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.DB_HOST);
    for (const [, f] of functions) expect(f.Properties.Environment.Variables.CORS_ALLOWED_ORIGINS).toBeUndefined();
    expect(resourcesOf(s.api, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS')).toHaveLength(0);
  });
});
