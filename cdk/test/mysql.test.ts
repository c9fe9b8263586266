/**
 * The Aurora MySQL variant (`-c bookstore:engine=mysql`): what differs from the PostgreSQL templates the other
 * test files check. Everything not engine-specific (VPC, IAM, alarms, API) is built by the same code.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { logicalIdByPath, resolveCrossStack, resourcesOf, type Synthesised, synthBookstore } from './helpers';

let s: Synthesised;
beforeAll(() => {
  s = synthBookstore({ 'bookstore:engine': 'mysql' });
});

const clusterId = () => logicalIdByPath(s.database, 'AWS::RDS::DBCluster', '/Cluster/Resource');
const sgId = (name: string) => logicalIdByPath(s.database, 'AWS::EC2::SecurityGroup', `/${name}/Resource`);

describe('Aurora MySQL cluster', () => {
  test('is Aurora MySQL 3 (MySQL 8.0) Serverless v2 on port 3306, encrypted, with IAM auth and deletion protection', () => {
    s.database.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.12.0',
      Port: 3306,
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: true,
      DatabaseName: 'bookstore',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    });
    s.database.allResourcesProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', Engine: 'aurora-mysql' });
  });

  test('a MySQL cluster parameter group requires TLS, logs slow queries (0.5 s) to a file and every deadlock', () => {
    const [[groupId, group], ...others] = resourcesOf(s.database, 'AWS::RDS::DBClusterParameterGroup');
    expect(others).toEqual([]);
    expect(group.Properties.Family).toBe('aurora-mysql8.0');
    // Exactly these: none of PostgreSQL's (rds.force_ssl, log_min_duration_statement, log_lock_waits).
    expect(group.Properties.Parameters).toEqual({
      require_secure_transport: 'ON',
      slow_query_log: '1',
      long_query_time: '0.5',
      log_output: 'FILE',
      innodb_print_all_deadlocks: '1',
    });
    s.database.hasResourceProperties('AWS::RDS::DBCluster', { DBClusterParameterGroupName: { Ref: groupId } });
  });

  test("exports MySQL's error and slow query logs to CloudWatch (not PostgreSQL's), and names them in outputs", () => {
    s.database.hasResourceProperties('AWS::RDS::DBCluster', { EnableCloudwatchLogsExports: ['error', 'slowquery'] });
    const outputs = s.database.toJSON().Outputs;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['MysqlErrorLogGroup', 'MysqlSlowQueryLogGroup']));
    expect(Object.keys(outputs)).not.toContain('PostgresqlLogGroup');
    expect(outputs.MysqlSlowQueryLogGroup.Value).toEqual({ 'Fn::Join': ['', ['/aws/rds/cluster/', { Ref: clusterId() }, '/slowquery']] });
    expect(outputs.MysqlErrorLogGroup.Value).toEqual({ 'Fn::Join': ['', ['/aws/rds/cluster/', { Ref: clusterId() }, '/error']] });
  });

  test("the master secret rotates with Secrets Manager's MySQL single-user rotation application", () => {
    const [[, app]] = resourcesOf(s.database, 'AWS::Serverless::Application');
    const mapping = app.Properties.Location.ApplicationId['Fn::FindInMap'][0];
    const ids = Object.values<any>(s.database.toJSON().Mappings[mapping]).map((m) => m.applicationId);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/applications\/SecretsManagerRDSMySQLRotationSingleUser$/);
    s.database.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  test('the stack says which engine it holds', () => {
    expect(s.database.toJSON().Description).toMatch(/^Bookstore database: Aurora MySQL, RDS Proxy/);
  });
});

describe('port 3306 everywhere', () => {
  const rules = () => [
    ...resourcesOf(s.database, 'AWS::EC2::SecurityGroupIngress'),
    ...resourcesOf(s.database, 'AWS::EC2::SecurityGroupEgress'),
  ];
  const onGroup = (group: string) =>
    rules().filter(([, r]) => JSON.stringify([r.Properties.GroupId, r.Properties.SourceSecurityGroupId, r.Properties.DestinationSecurityGroupId]).includes(`"${sgId(group)}"`));

  test('every database rule opens 3306 (as a literal, or read from the cluster) or HTTPS to Secrets Manager, nothing else', () => {
    const clusterPort = JSON.stringify({ 'Fn::GetAtt': [clusterId(), 'Endpoint.Port'] });
    const ports = rules().map(([, r]) => [r.Properties.FromPort, r.Properties.ToPort].map((p) => (typeof p === 'object' ? JSON.stringify(p) : p)));
    expect(ports.length).toBeGreaterThan(0);
    for (const [from, to] of ports) expect(from).toEqual(to);
    expect([...new Set(ports.map(([from]) => from))].sort()).toEqual([3306, 443, clusterPort].sort());
    expect(JSON.stringify(rules())).not.toContain('5432');
  });

  test('functions reach the proxy, and schema-lambda the writer, on 3306', () => {
    const tcp3306 = { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306 };
    s.database.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      ...tcp3306,
      GroupId: { 'Fn::GetAtt': [sgId('ProxySg'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [sgId('ProxyClientSg'), 'GroupId'] },
    });
    s.database.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      ...tcp3306,
      GroupId: { 'Fn::GetAtt': [sgId('ProxyClientSg'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [sgId('ProxySg'), 'GroupId'] },
    });
    s.database.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      ...tcp3306,
      GroupId: { 'Fn::GetAtt': [sgId('ClusterSg'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [sgId('SchemaFunctionSg'), 'GroupId'] },
    });
    // The proxy client group opens nothing else.
    expect(onGroup('ProxyClientSg').map(([, r]) => r.Properties.FromPort)).toEqual([3306, 3306]);
  });

  test('the security groups say MySQL', () => {
    s.database.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Aurora: MySQL from the proxy, the migrator and the rotation function',
    });
    s.database.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: 'RDS Proxy: MySQL from proxy clients, to the cluster' });
  });
});

describe('RDS Proxy', () => {
  test('is a MYSQL proxy that requires TLS and IAM end to end, with no secret', () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'MYSQL',
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
      Auth: Match.absent(),
      DebugLogging: false,
    });
  });

  test("does not pin a session on diesel's SET statements (EXCLUDE_VARIABLE_SETS), with the budget's pool settings", () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      DBClusterIdentifiers: [{ Ref: clusterId() }],
      ConnectionPoolConfigurationInfo: {
        SessionPinningFilters: ['EXCLUDE_VARIABLE_SETS'],
        MaxConnectionsPercent: 80,
        MaxIdleConnectionsPercent: 10,
        ConnectionBorrowTimeout: 5,
      },
    });
  });

  test("alarms are sized from MySQL's max_connections (135 at 4 ACU: the proxy's 108, alarm above 86)", () => {
    const alarm = resourcesOf(s.database, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .find((a) => a.MetricName === 'DatabaseConnections');
    expect(alarm).toMatchObject({ Threshold: 86 });
    expect(alarm.AlarmDescription).toContain('(80% of max_connections 135)');
  });
});

describe('function environment', () => {
  test('books and reviews reach the proxy on 3306 as MySQL clients: IAM token over the cleartext plugin, verified TLS', () => {
    const functions = resourcesOf(s.api, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.DB_HOST);
    expect(functions).toHaveLength(2);
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    for (const [, f] of functions) {
      const env = f.Properties.Environment.Variables;
      expect(resolveCrossStack(s, env.DB_HOST)).toEqual({ 'Fn::GetAtt': [proxyId, 'Endpoint'] });
      expect({ ...env, DB_HOST: undefined, DB_READER_HOST: undefined, DB_NAME: undefined, DB_USER: undefined }).toEqual({
        DB_HOST: undefined,
        DB_READER_HOST: undefined,
        DB_NAME: undefined,
        DB_USER: undefined,
        DB_ENGINE: 'mysql',
        DB_PORT: '3306',
        DB_IAM_AUTH: 'true',
        DB_SSLMODE: 'verify-full',
        DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
        LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN: '1',
        RUST_LOG: 'info',
      });
      expect(resolveCrossStack(s, env.DB_USER)).toBe('bookstore_app');
    }
  });

  test('schema-lambda talks MySQL to the writer on 3306 with the master secret and verified TLS', () => {
    const id = logicalIdByPath(s.database, 'AWS::Lambda::Function', '/SchemaFunction/Function/Resource');
    const env = s.database.toJSON().Resources[id].Properties.Environment.Variables;
    expect(env.DB_HOST).toEqual({ 'Fn::GetAtt': [clusterId(), 'Endpoint.Address'] });
    expect({ ...env, DB_HOST: undefined, DB_SECRET_ARN: undefined }).toEqual({
      DB_HOST: undefined,
      DB_SECRET_ARN: undefined,
      DB_ENGINE: 'mysql',
      DB_PORT: '3306',
      DB_NAME: 'bookstore',
      DB_SSLMODE: 'verify-full',
      DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
      APP_DB_ROLE: 'bookstore_app',
      RUST_LOG: 'info',
    });
  });
});

test('the stacks keep their names: the engine is not part of the stack prefix or the export names', () => {
  expect(s.assembly.stacks.map((st) => st.stackName).sort()).toEqual(['Bookstore-App', 'Bookstore-Database', 'Bookstore-Network']);
  expect(JSON.stringify(s.api.toJSON())).toContain('"Fn::ImportValue":"Bookstore:ProxyEndpoint"');
});
