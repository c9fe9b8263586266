/**
 * A stack as an app team writes it in ANOTHER repository: its own App, its own Stack, only the
 * BookstoreFunction construct and the bookstore's exports. docs/deploy.md shows the same code.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { writePlaceholderArtifacts } from '../lib/artifacts';
import { BookstoreFunction } from '../lib/bookstore-function';
import { importBookstore } from '../lib/exports';
import { cdkJsonContext, ENI_STATEMENT, logicalIdByPath, ownLogsStatement, roleStatements, tempDir, XRAY_STATEMENT } from './helpers';

/** The app team's stack (what `docs/deploy.md` "Deploying a function from another repository" shows). */
class AuthorsStack extends Stack {
  readonly authors: BookstoreFunction;
  constructor(scope: App, id: string, zipDir: string) {
    super(scope, id);
    const bookstore = importBookstore(this, 'Bookstore');
    this.authors = new BookstoreFunction(this, 'Authors', {
      name: 'authors',
      code: lambda.Code.fromAsset(zipDir), // in the other repo: 'target/lambda/authors/bootstrap.zip'
      database: bookstore.database,
      api: bookstore.api,
      routes: [{ method: 'GET', path: '/author/{name}/books' }],
      reservedConcurrency: 5,
      environment: { AUTHORS_PAGE_SIZE: '50' },
    });
  }
}

let t: Template;
beforeAll(() => {
  const app = new App({
    outdir: tempDir('outside-cdk-out-'),
    context: { ...cdkJsonContext(), 'aws:cdk:enable-path-metadata': true },
  });
  new AuthorsStack(app, 'Authors', writePlaceholderArtifacts(tempDir('outside-zip-')));
  // The bookstore's own policy packs: the construct brings its acknowledgements with it.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  t = Template.fromJSON(app.synth().getStackByName('Authors').template);
});

const imp = (name: string) => ({ 'Fn::ImportValue': `Bookstore:${name}` });
const fn = () => Object.values<any>(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Handler === 'bootstrap');

test('the function gets the bookstore environment, from the exports, plus its own', () => {
  expect(fn().Properties.Environment.Variables).toEqual({
    DB_HOST: imp('ProxyEndpoint'),
    DB_READER_HOST: imp('ProxyReadOnlyEndpoint'),
    DB_PORT: '5432',
    DB_NAME: imp('DatabaseName'),
    DB_USER: imp('AppRoleName'),
    DB_IAM_AUTH: 'true',
    DB_SSLMODE: 'verify-full',
    DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
    PGTZ: 'UTC',
    RUST_LOG: 'info',
    AUTHORS_PAGE_SIZE: '50',
  });
  expect(fn().Properties).toMatchObject({
    Runtime: 'provided.al2023',
    ReservedConcurrentExecutions: 5,
    TracingConfig: { Mode: 'Active' },
    LoggingConfig: { LogFormat: 'JSON' },
  });
});

test('it wears the proxy-client security group in the function subnets, and adds no security group rule', () => {
  const vpc = fn().Properties.VpcConfig;
  expect(vpc.SecurityGroupIds).toEqual([imp('ProxyClientSecurityGroupId')]);
  expect(vpc.SubnetIds).toEqual([0, 1].map((i) => ({ 'Fn::Select': [i, { 'Fn::Split': [',', imp('FunctionSubnetIds')] }] })));
  for (const type of ['AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress']) {
    t.resourceCountIs(type, 0);
  }
});

test('its role may log in to the proxy as the app role only, write its own logs, trace and manage its ENIs', () => {
  const logGroupId = logicalIdByPath(t, 'AWS::Logs::LogGroup', '/Authors/Fn/Logs/Resource');
  expect(t.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(30);
  expect(roleStatements(t, fn().Properties.Role['Fn::GetAtt'][0])).toEqual([
    ENI_STATEMENT,
    ownLogsStatement(logGroupId),
    XRAY_STATEMENT,
    { Sid: 'ConnectToProxyAsAppRole', Effect: 'Allow', Action: 'rds-db:connect', Resource: imp('ProxyAppUserArn') },
  ]);
});

test('GET /author/{name}/books is added to the bookstore API, invokes the live alias, and is deployed to its stage', () => {
  const resources = Object.values<any>(t.findResources('AWS::ApiGateway::Resource'));
  expect(resources.map((r) => r.Properties.PathPart)).toEqual(['author', '{name}', 'books']);
  expect(resources[0].Properties).toEqual({ ParentId: imp('RestApiRootResourceId'), PathPart: 'author', RestApiId: imp('RestApiId') });
  const [[methodId, method]] = Object.entries<any>(t.findResources('AWS::ApiGateway::Method'));
  const aliasId = logicalIdByPath(t, 'AWS::Lambda::Alias', '/Authors/Live/Resource');
  expect(method.Properties).toMatchObject({
    HttpMethod: 'GET',
    RestApiId: imp('RestApiId'),
    RequestParameters: { 'method.request.path.name': true },
    Integration: { Type: 'AWS_PROXY' },
  });
  expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(`{"Ref":"${aliasId}"}`);
  // The path parameter is declared and checked by a validator of this stack.
  const [[validatorId, validator]] = Object.entries<any>(t.findResources('AWS::ApiGateway::RequestValidator'));
  expect(method.Properties.RequestValidatorId).toEqual({ Ref: validatorId });
  expect(validator.Properties).toMatchObject({ RestApiId: imp('RestApiId'), ValidateRequestParameters: true });
  // A deployment of this stack's routes to the bookstore's stage, after the method exists.
  const [deployment] = Object.values<any>(t.findResources('AWS::ApiGateway::Deployment'));
  expect(deployment.Properties).toMatchObject({ RestApiId: imp('RestApiId'), StageName: imp('ApiStageName') });
  expect(deployment.DependsOn).toContain(methodId);
  // API Gateway may invoke the alias for this route on that stage only.
  const [permission] = Object.values<any>(t.findResources('AWS::Lambda::Permission'));
  expect(permission.Properties.FunctionName).toEqual({ Ref: aliasId });
  expect(JSON.stringify(permission.Properties.SourceArn)).toContain('/GET/author/*/books');
  expect(JSON.stringify(permission.Properties.SourceArn)).toContain(JSON.stringify(imp('ApiStageName')));
});

test("its canary rolls back on its alias errors and the bookstore API's 5xx alarm; its alarms page the bookstore topic", () => {
  const [group] = Object.values<any>(t.findResources('AWS::CodeDeploy::DeploymentGroup'));
  const names = group.Properties.AlarmConfiguration.Alarms.map((a: any) => a.Name);
  expect(names).toEqual(
    expect.arrayContaining([{ Ref: logicalIdByPath(t, 'AWS::CloudWatch::Alarm', '/Authors/AliasErrors/Resource') }, imp('ApiServerErrorAlarmName')]),
  );
  for (const alarm of Object.values<any>(t.findResources('AWS::CloudWatch::Alarm'))) {
    expect(alarm.Properties.AlarmActions).toEqual([imp('AlarmTopicArn')]);
  }
  t.hasOutput('AuthorsLogGroup', {});
});

test('against an Aurora MySQL bookstore (importBookstore with engine mysql) it gets the MySQL client settings instead', () => {
  const app = new App({ outdir: tempDir('outside-cdk-out-'), context: cdkJsonContext() });
  const stack = new Stack(app, 'AuthorsOnMysql');
  const bookstore = importBookstore(stack, 'Bookstore', { engine: 'mysql' });
  expect(bookstore.database.engine).toBe('mysql');
  new BookstoreFunction(stack, 'Authors', {
    name: 'authors',
    code: lambda.Code.fromAsset(writePlaceholderArtifacts(tempDir('outside-zip-'))),
    database: bookstore.database,
    api: bookstore.api,
    routes: [],
    reservedConcurrency: 1,
  });
  const [env] = Object.values<any>(Template.fromStack(stack).findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties.Environment.Variables,
  );
  expect(env).toEqual({
    DB_HOST: imp('ProxyEndpoint'),
    DB_READER_HOST: imp('ProxyReadOnlyEndpoint'),
    DB_ENGINE: 'mysql',
    DB_PORT: '3306',
    DB_NAME: imp('DatabaseName'),
    DB_USER: imp('AppRoleName'),
    DB_IAM_AUTH: 'true',
    DB_SSLMODE: 'verify-full',
    DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
    LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN: '1',
    RUST_LOG: 'info',
  });
  expect(importBookstore(new Stack(), 'Bookstore').database.engine).toBe('postgres');
});

test('the construct refuses what would break the bookstore conventions', () => {
  const bad = (props: Partial<ConstructorParameters<typeof BookstoreFunction>[2]>) => () => {
    const scratch = new Stack();
    const bookstore = importBookstore(scratch, 'Bookstore');
    return new BookstoreFunction(scratch, 'Bad', {
      name: 'bad',
      code: lambda.Code.fromInline('x'),
      database: bookstore.database,
      api: bookstore.api,
      routes: [],
      reservedConcurrency: 1,
      ...props,
    });
  };
  expect(bad({ environment: { DB_HOST: 'elsewhere' } })).toThrow(/must not override DB_HOST/);
  expect(bad({ environment: { PGTZ: 'Europe/Paris' } })).toThrow(/must not override PGTZ/);
  expect(bad({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency must be a whole number >= 1/);
  expect(bad({ name: 'Authors_v2' })).toThrow(/name must be lower-case/);
});
