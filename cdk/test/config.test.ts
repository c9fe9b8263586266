import { App } from 'aws-cdk-lib';
import { readConfig } from '../lib/config';
import { cdkJsonContext, synthBookstore } from './helpers';

const configWith = (context: Record<string, unknown>) => readConfig(new App({ context: { ...cdkJsonContext(), ...context } }).node);

test("cdk.json's defaults are the documented ones", () => {
  expect(configWith({})).toEqual({
    stackPrefix: 'Bookstore',
    apiStageName: 'prod',
    auroraMinAcu: 0.5,
    auroraMaxAcu: 4,
    auroraReaders: 1,
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
});

test('context overrides reach the templates (prefix, stage, capacity, readers, CA bundle of the migrator)', () => {
  const s = synthBookstore({
    'bookstore:stackPrefix': 'BookstoreStaging',
    'bookstore:apiStageName': 'staging',
    'bookstore:auroraMaxAcu': 2,
    'bookstore:auroraReaders': 0,
    'bookstore:schemaSslRootCert': '/var/task/rds-global-bundle.pem',
  });
  expect(s.assembly.stacks.map((st) => st.stackName).sort()).toEqual([
    'BookstoreStaging-App',
    'BookstoreStaging-Database',
    'BookstoreStaging-Network',
  ]);
  s.api.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'staging' });
  s.database.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 2 } });
  s.database.resourceCountIs('AWS::RDS::DBInstance', 1);
  s.database.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: { DB_SSLROOTCERT: '/var/task/rds-global-bundle.pem', APP_DB_ROLE: 'bookstore_app' } },
  });
  // The functions behind the proxy keep the system bundle (the proxy's certificate is from ACM).
  s.api.allResourcesProperties('AWS::Lambda::Function', {
    Environment: { Variables: { DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt' } },
  });
});
