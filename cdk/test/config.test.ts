import { App } from 'aws-cdk-lib';
import { buildBookstore } from '../lib/bookstore';
import { checkConnectionBudget, connectionBudget, maxConnectionsAt, readConfig } from '../lib/config';
import { cdkJsonContext, synthBookstore, testApp } from './helpers';

const configWith = (context: Record<string, unknown>) => readConfig(new App({ context: { ...cdkJsonContext(), ...context } }).node);

test("cdk.json's defaults are the documented ones", () => {
  expect(configWith({})).toEqual({
    engine: 'postgres',
    stackPrefix: 'Bookstore',
    apiStageName: 'prod',
    production: true,
    auroraMinAcu: 0.5,
    auroraMaxAcu: 4,
    auroraReaders: 1,
    measuredMaxConnections: undefined,
    proxy: { maxConnectionsPercent: 80, maxIdleConnectionsPercent: 10, borrowTimeoutSecs: 5, idleClientTimeoutSecs: 300 },
    concurrency: { books: 20, reviews: 20, outsideFunctions: 20 },
    backupRetentionDays: 14,
    backupCopyVaultArn: undefined,
    canary: 'canary',
    wafRateLimit: 1000,
    wafWriteRateLimit: 200,
    corsAllowedOrigins: [],
    alarmEmail: undefined,
    codeArtifact: false,
    codeArtifactReadAccounts: [],
    vpcCidr: '10.40.0.0/16',
    sslRootCert: '/etc/pki/tls/certs/ca-bundle.crt',
    schemaSslRootCert: '/etc/pki/tls/certs/ca-bundle.crt',
    schemaRunId: undefined,
  });
});

test('a malformed setting is refused, naming the context key', () => {
  expect(() => configWith({ 'bookstore:auroraMaxAcu': 'lots' })).toThrow(/bookstore:auroraMaxAcu/);
  expect(() => configWith({ 'bookstore:auroraMinAcu': 8, 'bookstore:auroraMaxAcu': 4 })).toThrow(/bookstore:auroraMinAcu/);
  expect(() => configWith({ 'bookstore:stackPrefix': 'my stack' })).toThrow(/bookstore:stackPrefix/);
  expect(() => configWith({ 'bookstore:apiStageName': 'v1/beta' })).toThrow(/bookstore:apiStageName/);
  expect(() => configWith({ 'bookstore:auroraReaders': 1.5 })).toThrow(/bookstore:auroraReaders/);
  expect(() => configWith({ 'bookstore:proxyMaxConnectionsPercent': 120 })).toThrow(/bookstore:proxyMaxConnectionsPercent/);
  expect(() => configWith({ 'bookstore:canary': 'linear' })).toThrow(/bookstore:canary/);
  expect(() => configWith({ 'bookstore:codeArtifact': 'yes' })).toThrow(/bookstore:codeArtifact/);
  expect(() => configWith({ 'bookstore:codeArtifactReadAccounts': '1234' })).toThrow(/bookstore:codeArtifactReadAccounts/);
  expect(() => configWith({ 'bookstore:backupCopyVaultArn': 'my-vault' })).toThrow(/bookstore:backupCopyVaultArn/);
  expect(() => configWith({ 'bookstore:corsAllowedOrigins': 'shop.example.com' })).toThrow(/bookstore:corsAllowedOrigins/);
  expect(() => configWith({ 'bookstore:corsAllowedOrigins': 'https://a.example/path' })).toThrow(/bookstore:corsAllowedOrigins/);
  expect(() => configWith({ 'bookstore:corsAllowedOrigins': '*,https://a.example' })).toThrow(/bookstore:corsAllowedOrigins/);
  expect(() => configWith({ 'bookstore:engine': 'aurora-mysql' })).toThrow(/bookstore:engine/);
});

test("bookstore:engine is 'postgres' or 'mysql'; anything else stops the app before a stack exists, naming the key", () => {
  expect(configWith({ 'bookstore:engine': 'mysql' }).engine).toBe('mysql');
  expect(configWith({ 'bookstore:engine': 'postgres' }).engine).toBe('postgres');
  for (const bad of ['MySQL', 'mariadb', 'postgresql']) {
    expect(() => configWith({ 'bookstore:engine': bad })).toThrow(`context bookstore:engine must be 'postgres' or 'mysql', got '${bad}'`);
  }
  const app = testApp({ 'bookstore:engine': 'oracle' });
  expect(() => buildBookstore(app)).toThrow("context bookstore:engine must be 'postgres' or 'mysql', got 'oracle'");
  expect(app.node.children.filter((c) => c.node.id.startsWith('Bookstore-'))).toEqual([]);
});

test('CORS origins are a comma-separated list, or *', () => {
  expect(configWith({ 'bookstore:corsAllowedOrigins': 'https://shop.example.com, http://localhost:5173' }).corsAllowedOrigins).toEqual([
    'https://shop.example.com',
    'http://localhost:5173',
  ]);
  expect(configWith({ 'bookstore:corsAllowedOrigins': '*' }).corsAllowedOrigins).toEqual(['*']);
});

test('production keeps at least 14 days of backups; a test environment may keep fewer', () => {
  expect(() => configWith({ 'bookstore:backupRetentionDays': 7 })).toThrow(/bookstore:backupRetentionDays must be at least 14 in production, got 7/);
  expect(configWith({ 'bookstore:backupRetentionDays': 7, 'bookstore:production': false }).backupRetentionDays).toBe(7);
});

describe('connection budget', () => {
  test('at the defaults: max ACU 4 gives 756 connections, the proxy 604, the functions 422, of which 60 are reserved', () => {
    expect(connectionBudget(configWith({}))).toEqual({
      maxConnections: 756,
      proxyConnections: 604,
      functionConnections: 422,
      reserved: 60,
      directConnections: 152,
    });
  });

  test('reserved concurrency above the budget fails synth with a message naming every number', () => {
    expect(() => configWith({ 'bookstore:auroraMaxAcu': 1, 'bookstore:booksConcurrency': 200 })).toThrow(
      'connection budget exceeded: reserved concurrency books 200 + reviews 20 + outside functions 20 = 240 > 105 ' +
        "(70% of the proxy's 80% = 151 of max_connections 189 at bookstore:auroraMaxAcu=1 (estimated; measure and set " +
        'bookstore:maxConnections)). Lower the concurrency keys or raise bookstore:auroraMaxAcu.',
    );
  });

  test('exactly at the budget passes, one more fails', () => {
    // max ACU 1: 189 → proxy 151 → functions 105 = 45 + 40 + 20.
    const at = { 'bookstore:auroraMaxAcu': 1, 'bookstore:booksConcurrency': 45, 'bookstore:reviewsConcurrency': 40 };
    expect(configWith(at).concurrency.books).toBe(45);
    expect(() => configWith({ ...at, 'bookstore:booksConcurrency': 46 })).toThrow(/= 106 > 105/);
  });

  test("on Aurora MySQL the estimate is AWS's table by max ACU (the row at or below it), far below PostgreSQL's", () => {
    const mysql = (acu: number) => maxConnectionsAt('mysql', acu);
    expect([1, 2, 4, 6, 8, 16, 32, 64, 128, 256].map(mysql)).toEqual([90, 90, 135, 135, 1000, 2000, 3000, 4000, 5000, 5000]);
    expect(maxConnectionsAt('postgres', 4)).toBe(756);
    expect(maxConnectionsAt('mysql', 4, 200)).toBe(200);
  });

  test('at the defaults on MySQL: 135 connections, the proxy 108, the functions 75, of which 60 are reserved', () => {
    expect(connectionBudget(configWith({ 'bookstore:engine': 'mysql' }))).toEqual({
      maxConnections: 135,
      proxyConnections: 108,
      functionConnections: 75,
      reserved: 60,
      directConnections: 27,
    });
  });

  test("a capacity PostgreSQL's budget allows can be too small on MySQL, and synth says so with MySQL's numbers", () => {
    const at2 = { 'bookstore:auroraMaxAcu': 2 };
    expect(configWith(at2).engine).toBe('postgres');
    expect(() => configWith({ ...at2, 'bookstore:engine': 'mysql' })).toThrow(
      'connection budget exceeded: reserved concurrency books 20 + reviews 20 + outside functions 20 = 60 > 50 ' +
        "(70% of the proxy's 80% = 72 of max_connections 90 at bookstore:auroraMaxAcu=2 (estimated; measure and set " +
        'bookstore:maxConnections)). Lower the concurrency keys or raise bookstore:auroraMaxAcu.',
    );
  });

  test('a measured max_connections replaces the estimate', () => {
    const cfg = configWith({ 'bookstore:maxConnections': 1000 });
    expect(connectionBudget(cfg).maxConnections).toBe(1000);
    expect(() => configWith({ 'bookstore:maxConnections': 50 })).toThrow(/max_connections 50 at bookstore:auroraMaxAcu=4\)/);
  });

  test('the proxy must leave room for the direct sessions (schema-lambda, rotation, an operator)', () => {
    const cfg = { ...configWith({}), proxy: { ...configWith({}).proxy, maxConnectionsPercent: 100 } };
    expect(() => checkConnectionBudget(cfg)).toThrow(
      'connection budget exceeded: the proxy may take 100% = 756 of max_connections 756 at bookstore:auroraMaxAcu=4 ' +
        '(estimated; measure and set bookstore:maxConnections), leaving 0 < 3 for schema-lambda, the rotation function ' +
        'and an operator. Lower bookstore:proxyMaxConnectionsPercent.',
    );
  });
});

test('context overrides reach the templates (prefix, stage, capacity, readers, pool, concurrency, CA bundle of the migrator)', () => {
  const s = synthBookstore({
    'bookstore:stackPrefix': 'BookstoreStaging',
    'bookstore:apiStageName': 'staging',
    'bookstore:auroraMaxAcu': 2,
    'bookstore:auroraReaders': 0,
    'bookstore:schemaSslRootCert': '/var/task/rds-global-bundle.pem',
    'bookstore:proxyBorrowTimeoutSecs': 3,
    'bookstore:proxyIdleClientTimeoutSecs': 600,
    'bookstore:booksConcurrency': 7,
  });
  expect(s.assembly.stacks.map((st) => st.stackName).sort()).toEqual([
    'BookstoreStaging-App',
    'BookstoreStaging-Database',
    'BookstoreStaging-Network',
  ]);
  s.api.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'staging' });
  s.database.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 2 } });
  s.database.resourceCountIs('AWS::RDS::DBInstance', 1);
  // Without readers there is no read-only proxy endpoint: its export is the read/write endpoint.
  s.database.resourceCountIs('AWS::RDS::DBProxyEndpoint', 0);
  s.database.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', { ConnectionPoolConfigurationInfo: { ConnectionBorrowTimeout: 3 } });
  s.database.hasResourceProperties('AWS::RDS::DBProxy', { IdleClientTimeout: 600 });
  s.database.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: { DB_SSLROOTCERT: '/var/task/rds-global-bundle.pem', APP_DB_ROLE: 'bookstore_app' } },
  });
  s.api.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 7 });
  // Exports are named after the prefix, so two environments in one account never collide.
  expect(JSON.stringify(s.api.toJSON())).toContain('"Fn::ImportValue":"BookstoreStaging:ProxyEndpoint"');
  // The functions behind the proxy keep the system bundle (the proxy's certificate is from ACM).
  const apiFunctions = Object.values<any>(s.api.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Environment);
  expect(apiFunctions.map((f) => f.Properties.Environment.Variables.DB_SSLROOTCERT)).toEqual([
    '/etc/pki/tls/certs/ca-bundle.crt',
    '/etc/pki/tls/certs/ca-bundle.crt',
  ]);
});
