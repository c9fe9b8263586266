import { Match } from 'aws-cdk-lib/assertions';
import {
  ENI_STATEMENT,
  findExport,
  XRAY_STATEMENT,
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

  test('has no session-pinning filter (RDS Proxy documents them for MySQL only)', () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ SessionPinningFilters: Match.absent() }),
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
    // PostgreSQL is the Rust side's default engine, and the port comes from the secret.
    expect(env.DB_ENGINE).toBeUndefined();
    expect(env.DB_PORT).toBeUndefined();
  });

  test('may read the master secret and nothing else beyond its ENIs and its own logs', () => {
    const { fn } = schemaFn();
    const statements = roleStatements(s.database, fn.Properties.Role['Fn::GetAtt'][0]);
    const logGroupId = logicalIdByPath(s.database, 'AWS::Logs::LogGroup', '/SchemaFunction/Logs/Resource');
    expect(statements).toEqual([
      ENI_STATEMENT,
      ownLogsStatement(logGroupId),
      XRAY_STATEMENT,
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

  test('export, under stable names, everything a function stack in another repository needs', () => {
    const id = (type: string, path: string) => logicalIdByPath(s.database, type, path);
    const proxy = id('AWS::RDS::DBProxy', '/Proxy/Resource');
    const cluster = id('AWS::RDS::DBCluster', '/Cluster/Resource');
    const expected: Record<string, any> = {
      'Bookstore:ProxyEndpoint': { 'Fn::GetAtt': [proxy, 'Endpoint'] },
      'Bookstore:ProxyReadOnlyEndpoint': { 'Fn::GetAtt': [id('AWS::RDS::DBProxyEndpoint', '/ProxyReader'), 'Endpoint'] },
      'Bookstore:ProxyName': { Ref: proxy },
      'Bookstore:ProxyClientSecurityGroupId': { 'Fn::GetAtt': [id('AWS::EC2::SecurityGroup', '/ProxyClientSg/Resource'), 'GroupId'] },
      'Bookstore:ClusterResourceId': { 'Fn::GetAtt': [cluster, 'DBClusterResourceId'] },
      'Bookstore:ClusterIdentifier': { Ref: cluster },
      'Bookstore:AppRoleName': 'bookstore_app',
      'Bookstore:DatabaseName': 'bookstore',
      'Bookstore:AlarmTopicArn': { Ref: id('AWS::SNS::Topic', '/AlarmTopic/Resource') },
    };
    for (const [name, value] of Object.entries(expected)) {
      const found = findExport(s.assembly, name);
      expect([name, found.stackName, found.value]).toEqual([name, 'Bookstore-Database', value]);
    }
    expect(JSON.stringify(findExport(s.assembly, 'Bookstore:ProxyAppUserArn').value)).toContain('/bookstore_app');
    for (const name of ['VpcId', 'AvailabilityZones', 'FunctionSubnetIds']) {
      expect(findExport(s.assembly, `Bookstore:${name}`).stackName).toBe('Bookstore-Network');
    }
  });

  test('name the log groups operators search: schema-lambda, proxy, postgresql, rotation', () => {
    const outputs = Object.keys(s.database.toJSON().Outputs);
    expect(outputs).toEqual(expect.arrayContaining(['SchemaLogGroup', 'ProxyLogGroup', 'PostgresqlLogGroup', 'RotationLogGroup']));
  });
});

describe('connection budget', () => {
  test('the proxy pool is sized from context: 80% max, 10% idle, 5 s borrow timeout, 5 min client idle timeout', () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: { MaxConnectionsPercent: 80, MaxIdleConnectionsPercent: 10, ConnectionBorrowTimeout: 5 },
    });
    s.database.hasResourceProperties('AWS::RDS::DBProxy', { IdleClientTimeout: 300 });
  });

  test('schema-lambda has reserved concurrency 1 (one migrator, one direct session in the budget)', () => {
    s.database.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ APP_DB_ROLE: 'bookstore_app' }) },
      ReservedConcurrentExecutions: 1,
      TracingConfig: { Mode: 'Active' },
    });
  });

  test('a read-only proxy endpoint targets the readers', () => {
    s.database.hasResourceProperties('AWS::RDS::DBProxyEndpoint', { TargetRole: 'READ_ONLY' });
  });
});

describe('database guardrails and data protection', () => {
  test('a cluster parameter group forces TLS and logs slow statements and lock waits', () => {
    const [[groupId, group]] = resourcesOf(s.database, 'AWS::RDS::DBClusterParameterGroup');
    expect(group.Properties.Parameters).toEqual({ 'rds.force_ssl': '1', log_min_duration_statement: '500', log_lock_waits: '1' });
    s.database.hasResourceProperties('AWS::RDS::DBCluster', { DBClusterParameterGroupName: { Ref: groupId } });
  });

  test('Performance Insights, explicit backup and maintenance windows, 14 days of point-in-time backups', () => {
    s.database.hasResourceProperties('AWS::RDS::DBCluster', {
      BackupRetentionPeriod: 14,
      PreferredBackupWindow: '02:00-03:00',
      PreferredMaintenanceWindow: 'sun:03:30-sun:04:30',
      PerformanceInsightsEnabled: true,
    });
    s.database.allResourcesProperties('AWS::RDS::DBInstance', { EnablePerformanceInsights: true });
  });

  test('an AWS Backup plan backs the cluster up daily and copies each backup to a second vault', () => {
    const [[, plan]] = resourcesOf(s.database, 'AWS::Backup::BackupPlan');
    const [rule] = plan.Properties.BackupPlan.BackupPlanRule;
    expect(rule.CopyActions).toHaveLength(1);
    const copyVault = logicalIdByPath(s.database, 'AWS::Backup::BackupVault', '/BackupCopyVault/Resource');
    expect(rule.CopyActions[0].DestinationBackupVaultArn).toEqual({ 'Fn::GetAtt': [copyVault, 'BackupVaultArn'] });
    const [[, selection]] = resourcesOf(s.database, 'AWS::Backup::BackupSelection');
    const clusterId = logicalIdByPath(s.database, 'AWS::RDS::DBCluster', '/Cluster/Resource');
    expect(JSON.stringify(selection.Properties.BackupSelection.Resources)).toContain(`{"Ref":"${clusterId}"}`);
  });

  test('with bookstore:backupCopyVaultArn the copy goes to that vault (another region or account)', () => {
    const arn = 'arn:aws:backup:eu-central-1:111122223333:backup-vault:bookstore-copies';
    const other = synthBookstore({ 'bookstore:backupCopyVaultArn': arn, 'bookstore:backupRetentionDays': 21 });
    other.database.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanRule: [Match.objectLike({ CopyActions: [Match.objectLike({ DestinationBackupVaultArn: arn })] })] },
    });
    other.database.resourceCountIs('AWS::Backup::BackupVault', 1);
    other.database.hasResourceProperties('AWS::RDS::DBCluster', { BackupRetentionPeriod: 21 });
  });

  test('the network and database stacks have termination protection; the app stack does not need it', () => {
    const protectedStacks = s.assembly.stacks.filter((st) => st.terminationProtection).map((st) => st.stackName);
    expect(protectedStacks.sort()).toEqual(['Bookstore-Database', 'Bookstore-Network']);
  });

  test('cross-stack references are strong: exports and imports, never a weak Fn::GetStackOutput', () => {
    for (const stack of s.assembly.stacks) {
      expect(JSON.stringify(stack.template)).not.toContain('Fn::GetStackOutput');
    }
    expect(JSON.stringify(s.api.toJSON())).toContain('"Fn::ImportValue":"Bookstore:ProxyEndpoint"');
  });
});

describe('alarms and rotation', () => {
  const alarms = () => resourcesOf(s.database, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const byMetric = (metric: string) => alarms().filter((a) => a.MetricName === metric);

  test('an encrypted, SSL-only alarm topic that every database alarm notifies', () => {
    const topicId = logicalIdByPath(s.database, 'AWS::SNS::Topic', '/AlarmTopic/Resource');
    const keyId = logicalIdByPath(s.database, 'AWS::KMS::Key', '/AlarmTopicKey/Resource');
    s.database.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    s.database.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    s.database.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) },
    });
    expect(alarms().length).toBeGreaterThanOrEqual(7);
    for (const a of alarms()) {
      expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  test('proxy connections alarm at 80% of the proxy share of max_connections; pinned sessions above reserved concurrency', () => {
    // max ACU 4: max_connections 756 (189 per ACU), proxy 80% = 604, alarm above 483; reserved 20+20+20.
    expect(byMetric('DatabaseConnections')[0]).toMatchObject({ Namespace: 'AWS/RDS', Threshold: 483 });
    expect(byMetric('DatabaseConnectionsCurrentlySessionPinned')[0]).toMatchObject({ Threshold: 60 });
    expect(byMetric('ClientConnectionsSetupFailedAuth')[0]).toMatchObject({ Statistic: 'Sum', Threshold: 0 });
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    expect(byMetric('DatabaseConnections')[0].Dimensions).toEqual([{ Name: 'ProxyName', Value: { Ref: proxyId } }]);
  });

  test('Aurora at 90% of max ACU, schema-lambda errors and rotation function errors alarm', () => {
    expect(byMetric('ServerlessDatabaseCapacity')[0]).toMatchObject({ Threshold: 3.6, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const errorAlarms = byMetric('Errors').map((a) => JSON.stringify(a.Dimensions));
    const schemaFn = logicalIdByPath(s.database, 'AWS::Lambda::Function', '/SchemaFunction/Function/Resource');
    expect(errorAlarms).toEqual(
      expect.arrayContaining([`[{"Name":"FunctionName","Value":{"Ref":"${schemaFn}"}}]`, `[{"Name":"FunctionName","Value":"${s.stacks.database.rotationFunctionName}"}]`]),
    );
  });

  test('an EventBridge rule sends rotation failures to the topic, and an alarm watches the rule', () => {
    const [[ruleId, rule]] = resourcesOf(s.database, 'AWS::Events::Rule');
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: { eventSource: ['secretsmanager.amazonaws.com'], eventName: ['RotationFailed', 'RotationAbandoned'] },
    });
    const topicId = logicalIdByPath(s.database, 'AWS::SNS::Topic', '/AlarmTopic/Resource');
    expect(rule.Properties.Targets.map((t: any) => t.Arn)).toEqual([{ Ref: topicId }]);
    expect(byMetric('TriggeredRules')[0].Dimensions).toEqual([{ Name: 'RuleName', Value: { Ref: ruleId } }]);
  });
});

describe('log retention', () => {
  const templates = () => s.assembly.stacks.map((st) => ({ name: st.stackName, t: st.template }));

  test('every log group the stacks own has a retention', () => {
    for (const { t } of templates()) {
      for (const [id, r] of Object.entries<any>(t.Resources)) {
        if (r.Type === 'AWS::Logs::LogGroup') expect([id, r.Properties.RetentionInDays]).toEqual([id, expect.any(Number)]);
      }
    }
  });

  test('every Lambda function logs to a group with retention, including the ones AWS and CDK create', () => {
    for (const { name, t } of templates()) {
      const retained = new Set(
        Object.values<any>(t.Resources)
          .filter((r) => r.Type === 'Custom::LogRetention' && r.Properties.RetentionInDays)
          .map((r) => JSON.stringify(r.Properties.LogGroupName)),
      );
      for (const [id, r] of Object.entries<any>(t.Resources)) {
        if (r.Type !== 'AWS::Lambda::Function') continue;
        // The LogRetention function sets its own group to one day (aws-cdk-lib's log-retention handler).
        if (r.Metadata['aws:cdk:path'].includes('/LogRetention')) continue;
        const group = r.Properties.LoggingConfig?.LogGroup;
        if (group) {
          expect(t.Resources[group.Ref].Properties.RetentionInDays).toBeGreaterThan(0);
        } else {
          const implicit = JSON.stringify({ 'Fn::Join': ['', ['/aws/lambda/', { Ref: id }]] });
          expect(`${name}/${id} ${retained.has(implicit)}`).toBe(`${name}/${id} true`);
        }
      }
    }
  });

  test('the proxy, rotation function and API Gateway execution log groups get a retention', () => {
    const names = templates().flatMap(({ t }) =>
      Object.values<any>(t.Resources)
        .filter((r) => r.Type === 'Custom::LogRetention')
        .map((r) => JSON.stringify(r.Properties.LogGroupName)),
    );
    const proxyId = logicalIdByPath(s.database, 'AWS::RDS::DBProxy', '/Proxy/Resource');
    expect(names).toEqual(
      expect.arrayContaining([
        JSON.stringify({ 'Fn::Join': ['', ['/aws/rds/proxy/', { Ref: proxyId }]] }),
        JSON.stringify(`/aws/lambda/${s.stacks.database.rotationFunctionName}`),
      ]),
    );
    expect(names.some((n) => n.includes('API-Gateway-Execution-Logs_'))).toBe(true);
  });
});
