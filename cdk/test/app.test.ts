import { Match } from 'aws-cdk-lib/assertions';
import {
  ENI_STATEMENT,
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
  ['ReviewsFunction', 'GET', '/review'],
  ['ReviewsFunction', 'POST', '/review'],
  ['ReviewsFunction', 'PUT', '/review'],
  ['ReviewsFunction', 'GET', '/book/{id}/reviews'],
];

const FUNCTIONS = ['BooksFunction', 'ReviewsFunction'] as const;
const fnId = (name: string) => logicalIdByPath(s.api, 'AWS::Lambda::Function', `/${name}/Function/Resource`);
const fnResource = (name: string) => s.api.toJSON().Resources[fnId(name)];

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
    const env = fnResource(name).Properties.Environment.Variables;
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    expect(resolveCrossStack(s, env.DB_HOST)).toEqual({ 'Fn::GetAtt': [proxyId, 'Endpoint'] });
    expect({ ...env, DB_HOST: undefined }).toEqual({
      DB_HOST: undefined,
      DB_PORT: '5432',
      DB_NAME: 'bookstore',
      DB_USER: 'bookstore_app',
      DB_IAM_AUTH: 'true',
      DB_SSLMODE: 'verify-full',
      DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
      DB_PREPARED_STATEMENTS: 'false',
      RUST_LOG: 'info',
      AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH: 'true',
    });
  });

  test("may connect to the proxy as bookstore_app, write its own logs and manage its ENIs: nothing else", () => {
    const fn = fnResource(name);
    const logGroupId = logicalIdByPath(s.api, 'AWS::Logs::LogGroup', `/${name}/Logs/Resource`);
    const statements = roleStatements(s.api, fn.Properties.Role['Fn::GetAtt'][0]);
    expect(statements).toEqual([
      ENI_STATEMENT,
      ownLogsStatement(logGroupId),
      {
        Sid: 'ConnectToProxyAsAppRole',
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: expect.anything(),
      },
    ]);
    // The connect resource is the proxy's db user bookstore_app: prx-<id>/bookstore_app.
    const connect = resolveCrossStack(s, statements[2].Resource);
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
    for (const fn of Object.values(s.stacks.app.functions)) {
      expect(fn.node.dependencies).toContain(trigger);
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
      const fn = FUNCTIONS.find((f) => uri.includes(`"${fnId(f)}"`));
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

  test('lets API Gateway invoke each function only for its own routes, on the deployed stage', () => {
    const stageId = logicalIdByPath(s.api, 'AWS::ApiGateway::Stage', '/Api/DeploymentStage.prod/Resource');
    const granted = resourcesOf(s.api, 'AWS::Lambda::Permission').map(([, p]) => {
      expect(p.Properties).toMatchObject({ Principal: 'apigateway.amazonaws.com', Action: 'lambda:InvokeFunction' });
      const parts: any[] = p.Properties.SourceArn['Fn::Join'][1];
      expect(parts.slice(-3, -1)).toEqual(['/', { Ref: stageId }]);
      const fn = FUNCTIONS.find((f) => p.Properties.FunctionName['Fn::GetAtt'][0] === fnId(f));
      return [fn, parts[parts.length - 1]];
    });
    const expected = EXPECTED_ROUTES.map(([fn, method, path]) => [fn, `/${method}${path.replace(/\{[^}]+\}/g, '*')}`]);
    expect(granted.sort()).toEqual(expected.sort());
  });

  test('validates a required JSON body on POST and PUT against the function input shape', () => {
    const validators = resourcesOf(s.api, 'AWS::ApiGateway::RequestValidator');
    expect(validators).toHaveLength(1);
    const [[validatorId, validator]] = validators;
    expect(validator.Properties).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    const models = s.api.toJSON().Resources;
    const required = (modelRef: any) => models[modelRef.Ref].Properties.Schema.required;
    for (const r of routes()) {
      if (r.method === 'GET') {
        expect(r.props.RequestValidatorId).toBeUndefined();
        continue;
      }
      expect(r.props.RequestValidatorId).toEqual({ Ref: validatorId });
      const model = r.props.RequestModels['application/json'];
      expect(models[model.Ref].Properties.Schema.type).toBe('object');
      expect(required(model)).toEqual(
        r.path === '/book' ? ['title', 'author', 'publisher', 'year'] : ['book_id', 'reviewer', 'rate'],
      );
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
    expect(stage.Properties.MethodSettings).toEqual([
      expect.objectContaining({ LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true }),
    ]);
    s.api.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  test('outputs the API URL with the stage', () => {
    s.api.hasOutput('ApiUrl', {
      Value: { 'Fn::Join': ['', Match.arrayWith(['https://', '/', { Ref: Match.stringLikeRegexp('ApiDeploymentStageprod') }, '/'])] },
    });
  });
});
