import { Match } from 'aws-cdk-lib/assertions';
import {
  ENI_STATEMENT,
  logicalIdByPath,
  ownLogsStatement,
  resourcesOf,
  roleStatements,
  type Synthesised,
  synthBookstore,
} from './helpers';

let s: Synthesised;
beforeAll(() => {
  s = synthBookstore();
});

describe('Aurora cluster', () => {
  test('is Aurora PostgreSQL Serverless v2 on a version cfn-lint allows creating, encrypted, with IAM auth and deletion protection', () => {
    s.database.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: '17.9',
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: true,
      DatabaseName: 'bookstore',
      Port: 5432,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    });
    s.database.allResourcesProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
  });

  test('has a generated master secret that rotates', () => {
    s.database.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password' }),
    });
    s.database.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      // Not mid-deploy: schema-lambda reads the secret right after the cluster is created.
      RotateImmediatelyOnUpdate: false,
    });
  });
});

describe('RDS Proxy', () => {
  test('requires TLS and uses IAM end to end, with no secret', () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
      Auth: Match.absent(),
      DebugLogging: false,
    });
  });

  test("proxy's role may log in to the cluster as bookstore_app and nothing else", () => {
    const [[, proxy]] = resourcesOf(s.database, 'AWS::RDS::DBProxy');
    const roleId = proxy.Properties.RoleArn['Fn::GetAtt'][0];
    const role = s.database.toJSON().Resources[roleId];
    const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('rds-db:connect');
    const arn = JSON.stringify(statements[0].Resource);
    expect(arn).toContain(':dbuser:');
    expect(arn).toContain('DBClusterResourceId');
    expect(arn).toContain('/bookstore_app');
    // No managed policies and no separate policies attached to the proxy role.
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const attached = resourcesOf(s.database, 'AWS::IAM::Policy').filter(([, p]) =>
      JSON.stringify(p.Properties.Roles).includes(roleId),
    );
    expect(attached).toEqual([]);
  });

  test('targets the cluster', () => {
    const clusterId = logicalIdByPath(s.database, 'AWS::RDS::DBCluster', '/Cluster/Resource');
    s.database.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      DBClusterIdentifiers: [{ Ref: clusterId }],
    });
  });
});

describe('schema-lambda', () => {
  const schemaFn = () => {
    const id = logicalIdByPath(s.database, 'AWS::Lambda::Function', '/SchemaFunction/Function/Resource');
    return { id, fn: s.database.toJSON().Resources[id] };
  };

  test('is the provided.al2023 x86_64 bootstrap, in the VPC', () => {
    const { fn } = schemaFn();
    expect(fn.Properties.Runtime).toBe('provided.al2023');
    expect(fn.Properties.Architectures).toEqual(['x86_64']);
    expect(fn.Properties.Handler).toBe('bootstrap');
    expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(2);
  });

  test('talks to the cluster writer directly (not the proxy) with the master secret', () => {
    const { fn } = schemaFn();
    const clusterId = logicalIdByPath(s.database, 'AWS::RDS::DBCluster', '/Cluster/Resource');
    const env = fn.Properties.Environment.Variables;
    expect(env.DB_HOST).toEqual({ 'Fn::GetAtt': [clusterId, 'Endpoint.Address'] });
    expect(JSON.stringify(env.DB_HOST)).not.toMatch(/Proxy/);
    expect(env.DB_SECRET_ARN).toEqual({ Ref: logicalIdByPath(s.database, 'AWS::SecretsManager::SecretTargetAttachment', '/Cluster/Secret/Attachment/Resource') });
    expect(env).toMatchObject({
      DB_NAME: 'bookstore',
      DB_SSLMODE: 'verify-full',
      DB_SSLROOTCERT: '/etc/pki/tls/certs/ca-bundle.crt',
      APP_DB_ROLE: 'bookstore_app',
      RUST_LOG: 'info',
    });
  });

  test('may read the master secret and nothing else beyond its ENIs and its own logs', () => {
    const { fn } = schemaFn();
    const statements = roleStatements(s.database, fn.Properties.Role['Fn::GetAtt'][0]);
    const logGroupId = logicalIdByPath(s.database, 'AWS::Logs::LogGroup', '/SchemaFunction/Logs/Resource');
    expect(statements).toEqual([
      ENI_STATEMENT,
      ownLogsStatement(logGroupId),
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: {
          Ref: logicalIdByPath(s.database, 'AWS::SecretsManager::SecretTargetAttachment', '/Cluster/Secret/Attachment/Resource'),
        },
      },
    ]);
  });
});

describe('migrate trigger', () => {
  const trigger = () => {
    const [[id, resource], ...rest] = resourcesOf(s.database, 'Custom::Trigger');
    expect(rest).toEqual([]);
    return { id, resource };
  };

  test('invokes the current version of schema-lambda synchronously, with time for the whole run', () => {
    const { resource } = trigger();
    const versionId = logicalIdByPath(s.database, 'AWS::Lambda::Version', '/SchemaFunction/Function/CurrentVersion/Resource');
    expect(resource.Properties.HandlerArn).toEqual({ Ref: versionId });
    expect(resource.Properties.InvocationType).toBe('RequestResponse');
    expect(resource.Properties.ExecuteOnHandlerChange).toBe(true);
    const fnTimeout = s.database.toJSON().Resources[
      logicalIdByPath(s.database, 'AWS::Lambda::Function', '/SchemaFunction/Function/Resource')
    ].Properties.Timeout;
    // Custom::Trigger's Timeout is in milliseconds; it must outlast the function (and the 2-minute default).
    expect(Number(resource.Properties.Timeout)).toBeGreaterThan(fnTimeout * 1000);
    expect(Number(resource.Properties.Timeout)).toBeLessThanOrEqual(15 * 60 * 1000);
  });

  test('runs after the cluster (writer included), the proxy and its target group, and the migrator network rules', () => {
    const { resource } = trigger();
    const dependsOn: string[] = resource.DependsOn;
    const must = [
      logicalIdByPath(s.database, 'AWS::RDS::DBCluster', '/Cluster/Resource'),
      logicalIdByPath(s.database, 'AWS::RDS::DBInstance', '/Cluster/Writer/Resource'),
      logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource'),
      logicalIdByPath(s.database, 'AWS::RDS::DBProxyTargetGroup', '/Proxy/ProxyTargetGroup'),
      logicalIdByPath(s.database, 'AWS::SecretsManager::SecretTargetAttachment', '/Cluster/Secret/Attachment/Resource'),
      ...resourcesOf(s.database, 'AWS::EC2::SecurityGroupIngress')
        .filter(([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes('SchemaFunctionSg'))
        .map(([id]) => id),
      ...resourcesOf(s.database, 'AWS::EC2::SecurityGroupEgress')
        .filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes('SchemaFunctionSg'))
        .map(([id]) => id),
    ];
    expect(must.length).toBeGreaterThanOrEqual(9);
    expect(dependsOn).toEqual(expect.arrayContaining(must));
  });

  test('reruns whenever bookstore:schemaRunId changes, and the property is absent without it', () => {
    expect(trigger().resource.Properties.RunId).toBeUndefined();
    const withRunId = synthBookstore({ 'bookstore:schemaRunId': 'abc123' });
    withRunId.database.hasResourceProperties('Custom::Trigger', { RunId: 'abc123' });
  });
});

describe('outputs', () => {
  test("name schema-lambda and publish the proxy's connect resource for the app stack", () => {
    s.database.hasOutput('SchemaFunctionName', {
      Value: { Ref: logicalIdByPath(s.database, 'AWS::Lambda::Function', '/SchemaFunction/Function/Resource') },
    });
    s.database.hasOutput('ProxyAppUserArn', {
      Value: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':dbuser:'), '/bookstore_app'])] },
    });
  });
});
