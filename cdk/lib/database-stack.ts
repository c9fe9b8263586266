import {
  ArnFormat,
  CfnOutput,
  type CfnResource,
  Duration,
  Fn,
  Names,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { APP_DB_ROLE, type BookstoreConfig, connectionBudget, type DatabaseEngine, DB_NAME, dbPort, MASTER_USERNAME } from './config';
import { EXPORTS, exportName } from './exports';
import { acknowledgeLogRetention } from './nag';
import { RustFunction } from './rust-function';
import { SUBNETS } from './network-stack';

/**
 * Statements slower than this are logged with their duration (PostgreSQL's `log_min_duration_statement`, ms;
 * MySQL's `long_query_time`, in seconds).
 */
export const SLOW_STATEMENT_MS = 500;
/** Log retention of the log groups AWS services create on their own (proxy, rotation, CDK providers). */
export const SERVICE_LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

/** Aurora PostgreSQL version: the newest 17.x that CDK names and cfn-lint still allows creating. */
export const AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9;
/** Aurora MySQL version: the newest 3.x (MySQL 8.0 compatible) that CDK names and cfn-lint still allows creating. */
export const AURORA_MYSQL_VERSION = rds.AuroraMysqlEngineVersion.VER_3_12_0;

/** A log group Aurora exports to CloudWatch, named in an output for operators. */
export interface EngineLogOutput {
  /** The output's id. */
  readonly outputId: string;
  /** The export (`/aws/rds/cluster/<cluster>/<logExport>`). */
  readonly logExport: string;
  readonly description: string;
}

/** Everything this stack builds differently per engine; the rest is built once for both. */
export interface EngineSettings {
  /** The engine's name in descriptions. */
  readonly displayName: string;
  readonly clusterEngine: rds.IClusterEngine;
  /** The cluster parameter group's description and parameters (server-side guardrails). */
  readonly parameterGroupDescription: string;
  readonly parameters: Record<string, string>;
  /** `EnableCloudwatchLogsExports`, and the outputs that name those log groups. */
  readonly logOutputs: readonly EngineLogOutput[];
  /** RDS Proxy's session-pinning filters (documented for MySQL only). */
  readonly sessionPinningFilters: readonly rds.SessionPinningFilter[];
}

/** The engine-specific half of the database stack. */
export function engineSettings(engine: DatabaseEngine): EngineSettings {
  switch (engine) {
    case 'postgres':
      return {
        displayName: 'PostgreSQL',
        clusterEngine: rds.DatabaseClusterEngine.auroraPostgres({ version: AURORA_POSTGRES_VERSION }),
        parameterGroupDescription: 'Bookstore: force TLS, log slow statements and lock waits',
        parameters: {
          'rds.force_ssl': '1',
          log_min_duration_statement: String(SLOW_STATEMENT_MS),
          log_lock_waits: '1',
        },
        logOutputs: [
          { outputId: 'PostgresqlLogGroup', logExport: 'postgresql', description: 'PostgreSQL log (slow statements, lock waits)' },
        ],
        sessionPinningFilters: [],
      };
    case 'mysql':
      return {
        displayName: 'MySQL',
        clusterEngine: rds.DatabaseClusterEngine.auroraMysql({ version: AURORA_MYSQL_VERSION }),
        parameterGroupDescription: 'Bookstore: require TLS, log slow queries and deadlocks',
        parameters: {
          require_secure_transport: 'ON',
          slow_query_log: '1',
          long_query_time: String(SLOW_STATEMENT_MS / 1000),
          // The slow query log goes to CloudWatch only from a file (a TABLE log is not exported).
          log_output: 'FILE',
          // MySQL has no log of lock waits (PostgreSQL's log_lock_waits); every deadlock it resolves goes to
          // the error log instead (only the latest is kept otherwise, in SHOW ENGINE INNODB STATUS).
          innodb_print_all_deadlocks: '1',
        },
        logOutputs: [
          { outputId: 'MysqlErrorLogGroup', logExport: 'error', description: 'MySQL error log (start-up, failures, every deadlock)' },
          { outputId: 'MysqlSlowQueryLogGroup', logExport: 'slowquery', description: `MySQL slow query log (queries over ${SLOW_STATEMENT_MS / 1000} s)` },
        ],
        // diesel's MySQL connection sends `SET time_zone` and `SET character_set_*` at connect (and the kit
        // sets the isolation level): without this filter each of them pins the session. The filter is safe
        // here because every client of this proxy sets the same values, so a connection handed to another
        // client carries nothing that client would not have set itself. It does not stop pinning:
        // diesel runs every query as a server-side prepared statement, and a prepared statement still pins
        // the session to its connection, so the connection budget (lib/config.ts) keeps assuming one
        // database connection per warm container.
        sessionPinningFilters: [rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
      };
  }
}

/**
 * How long schema-lambda may run: lock wait (60 s default) plus the migrations themselves, with their
 * lock-conflict retries. The runner stops retrying and cuts its statements SCHEMA_DEADLINE_MARGIN_SECS
 * (10 s) before this ends, so a deploy blocked by a long transaction fails typed (LockNotAvailable).
 */
export const SCHEMA_FUNCTION_TIMEOUT = Duration.minutes(10);

export interface DatabaseStackProps extends StackProps {
  readonly config: BookstoreConfig;
  readonly vpc: ec2.IVpc;
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
  readonly schemaCode: lambda.Code;
}

/**
 * The database team's stack: Aurora PostgreSQL (or, with `bookstore:engine=mysql`, Aurora MySQL) Serverless
 * v2, RDS Proxy, the master secret and its rotation, schema-lambda and the trigger that migrates on every
 * deploy, backups, the alarm topic and the database's alarms.
 *
 * Hands function stacks (the app stack, and stacks in other repositories) only the exports in
 * `EXPORTS.database`: the proxy endpoints, the security group a function must wear to reach the proxy,
 * the proxy's connect resource for `bookstore_app`, the alarm topic; plus, inside this app, the migrate
 * trigger its functions must wait for.
 */
export class DatabaseStack extends Stack {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;
  /** The only security group the proxy accepts connections from; the app team attaches it to its functions. */
  readonly proxyClientSecurityGroup: ec2.SecurityGroup;
  readonly schemaFunction: lambda.Function;
  /** Runs `migrate` on deploy; app functions must `executeBefore` on it. */
  readonly migrateTrigger: triggers.Trigger;
  /** Every alarm of the bookstore notifies this KMS-encrypted topic. */
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Name of the log group the master secret's rotation function writes to. */
  readonly rotationFunctionName: string;

  constructor(scope: Construct, id: string, props: DatabaseStackProps) {
    super(scope, id, props);
    Tags.of(this).add('bookstore:owner', 'database-team');
    const { config, vpc } = props;
    const settings = engineSettings(config.engine);
    const port = dbPort(config.engine);
    const tcp = ec2.Port.tcp(port);

    // Security groups: nothing opens to a CIDR, every rule names its peer group.
    const sg = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc, description, allowAllOutbound: false });
    const clusterSg = sg('ClusterSg', `Aurora: ${settings.displayName} from the proxy, the migrator and the rotation function`);
    const proxySg = sg('ProxySg', `RDS Proxy: ${settings.displayName} from proxy clients, to the cluster`);
    this.proxyClientSecurityGroup = sg('ProxyClientSg', 'Functions allowed to reach the proxy (and nothing else)');
    const schemaSg = sg('SchemaFunctionSg', 'schema-lambda: to the cluster writer and Secrets Manager');
    const rotationSg = sg('RotationSg', 'Master secret rotation: to the cluster and Secrets Manager');

    const allow = (from: ec2.SecurityGroup, to: ec2.SecurityGroup, why: string) => {
      from.addEgressRule(to, tcp, why);
      to.addIngressRule(from, tcp, why);
    };
    // proxy -> cluster and rotation -> cluster are added by DatabaseProxy and addRotationSingleUser
    // themselves (on the cluster's port); repeating them here would make EC2 reject a duplicate rule.
    allow(this.proxyClientSecurityGroup, proxySg, 'functions to RDS Proxy');
    allow(schemaSg, clusterSg, 'schema-lambda to the Aurora writer (advisory lock needs a direct session)');
    for (const [peer, who] of [[schemaSg, 'schema-lambda'], [rotationSg, 'secret rotation']] as const) {
      peer.connections.allowTo(props.secretsManagerEndpoint, ec2.Port.tcp(443), `${who} to Secrets Manager`);
    }

    const engine = settings.clusterEngine;
    // Server-side guardrails: no client may connect without TLS (the proxy and schema-lambda verify it
    // already; this covers the rotation function and operators), slow statements and lock waits (MySQL:
    // deadlocks) are logged.
    const parameterGroup = new rds.ParameterGroup(this, 'ClusterParameters', {
      engine,
      description: settings.parameterGroupDescription,
      parameters: settings.parameters,
    });
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      parameterGroup,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME),
      defaultDatabaseName: DB_NAME,
      port,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.database },
      securityGroups: [clusterSg],
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true, enablePerformanceInsights: true }),
      readers: Array.from({ length: config.auroraReaders }, (_, i) =>
        rds.ClusterInstance.serverlessV2(`Reader${i + 1}`, {
          scaleWithWriter: true,
          autoMinorVersionUpgrade: true,
          enablePerformanceInsights: true,
        }),
      ),
      serverlessV2MinCapacity: config.auroraMinAcu,
      serverlessV2MaxCapacity: config.auroraMaxAcu,
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: true,
      backup: { retention: Duration.days(config.backupRetentionDays), preferredWindow: '02:00-03:00' },
      // After the backup window, UTC; minor version upgrades happen here.
      preferredMaintenanceWindow: 'sun:03:30-sun:04:30',
      enablePerformanceInsights: true,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      copyTagsToSnapshot: true,
      cloudwatchLogsExports: settings.logOutputs.map((l) => l.logExport),
      cloudwatchLogsRetention: logs.RetentionDays.ONE_MONTH,
    });
    const masterSecret = this.cluster.secret!;
    if (config.engine === 'mysql') this.acknowledgeMysqlFindings();

    // The engine's own single-user rotation application (PostgreSQL's or MySQL's), from the cluster engine.
    const rotation = this.cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: { subnetGroupName: SUBNETS.functions },
      securityGroup: rotationSg,
      // Not during the deploy that creates it: schema-lambda reads this secret right after, and a
      // rotation in flight could change the password between its read and its login.
      rotateImmediatelyOnUpdate: false,
    });
    // SecretRotation names the function after its construct (last 64 characters of its unique id).
    const rotationId = Names.uniqueId(rotation);
    this.rotationFunctionName = rotationId.substring(Math.max(rotationId.length - 64, 0));

    // End-to-end IAM: clients authenticate to the proxy with IAM tokens and the proxy authenticates
    // to Aurora with IAM too, so no password for bookstore_app exists anywhere (schema-lambda grants
    // it rds_iam on PostgreSQL, and creates it IDENTIFIED WITH AWSAuthenticationPlugin on Aurora
    // MySQL). TLS is required on the client side.
    const proxyRole = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'RDS Proxy: logs in to Aurora as the app role, and as nothing else',
      inlinePolicies: {
        connectAsAppRole: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['rds-db:connect'],
              resources: [
                this.formatArn({
                  service: 'rds-db',
                  resource: 'dbuser',
                  resourceName: `${this.cluster.clusterResourceIdentifier}/${APP_DB_ROLE}`,
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ],
            }),
          ],
        }),
      },
    });
    this.proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromCluster(this.cluster),
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.database },
      securityGroups: [proxySg],
      role: proxyRole,
      requireTLS: true,
      iamAuth: true,
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      debugLogging: false,
      // MySQL only (engineSettings says why, and what still pins).
      ...(settings.sessionPinningFilters.length > 0 ? { sessionPinningFilters: [...settings.sessionPinningFilters] } : {}),
      // The connection budget (lib/config.ts): leave room for direct sessions, give up quickly on a full
      // pool (the functions' own checkout waits 3 s), and drop a frozen container's pinned session after
      // minutes, not the default half hour.
      maxConnectionsPercent: config.proxy.maxConnectionsPercent,
      maxIdleConnectionsPercent: config.proxy.maxIdleConnectionsPercent,
      borrowTimeout: Duration.seconds(config.proxy.borrowTimeoutSecs),
      idleClientTimeout: Duration.seconds(config.proxy.idleClientTimeoutSecs),
    });
    // Reads may go to the reader through the proxy; without readers the writer endpoint serves them.
    const readOnlyEndpoint =
      config.auroraReaders > 0
        ? new rds.CfnDBProxyEndpoint(this, 'ProxyReader', {
            dbProxyName: this.proxy.dbProxyName,
            dbProxyEndpointName: `${Names.uniqueResourceName(this, { maxLength: 40, separator: '-' })}-ro`.toLowerCase(),
            targetRole: 'READ_ONLY',
            vpcSubnetIds: vpc.selectSubnets({ subnetGroupName: SUBNETS.database }).subnetIds,
            vpcSecurityGroupIds: [proxySg.securityGroupId],
          }).attrEndpoint
        : this.proxy.endpoint;

    const schema = new RustFunction(this, 'SchemaFunction', {
      description: 'schema-lambda: applies bookstore migrations on the Aurora writer',
      code: props.schemaCode,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.functions },
      securityGroup: schemaSg,
      timeout: SCHEMA_FUNCTION_TIMEOUT,
      // One migrator at a time (it takes an advisory lock anyway), and one direct session in the budget.
      reservedConcurrentExecutions: 1,
      environment: {
        DB_SECRET_ARN: masterSecret.secretArn,
        // The writer, never the proxy: the migration advisory lock must live on one direct session.
        DB_HOST: this.cluster.clusterEndpoint.hostname,
        DB_NAME,
        DB_SSLMODE: 'verify-full',
        DB_SSLROOTCERT: config.schemaSslRootCert,
        // PostgreSQL is the Rust side's default engine and the secret names the port, so the PostgreSQL
        // template sets neither; the MySQL one says both, as the functions' environment does.
        ...(config.engine === 'postgres' ? {} : { DB_ENGINE: config.engine, DB_PORT: String(port) }),
        APP_DB_ROLE,
        RUST_LOG: 'info',
      },
    });
    this.schemaFunction = schema.fn;
    masterSecret.grantRead(this.schemaFunction);

    // Migrate on deploy: after the cluster (with its instances), the proxy (with its target group) and
    // every network rule the migrator needs; the app stack adds `executeBefore` for its functions.
    this.migrateTrigger = new triggers.Trigger(this, 'MigrateOnDeploy', {
      handler: this.schemaFunction,
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      // The provider's own Lambda allows 15 minutes; give schema-lambda's full timeout plus a margin.
      timeout: SCHEMA_FUNCTION_TIMEOUT.plus(Duration.minutes(1)),
      executeOnHandlerChange: true,
      executeAfter: [this.cluster, this.proxy, clusterSg, schemaSg, masterSecret],
    });
    if (config.schemaRunId) {
      // Any property change is an Update, and the trigger provider runs the handler on every Update.
      const resource = this.migrateTrigger.node.findChild('Default').node.defaultChild as CfnResource;
      resource.addPropertyOverride('RunId', config.schemaRunId);
    }

    this.alarmTopic = this.buildAlarmTopic(config);
    this.buildAlarms(config, masterSecret.secretArn);
    this.buildBackupPlan(config);
    this.retainServiceLogs();

    const prefix = config.stackPrefix;
    const exported = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description, exportName: exportName(prefix, name) });
    const d = EXPORTS.database;
    exported(
      d.schemaFunctionName,
      this.schemaFunction.functionName,
      'schema-lambda, for `aws lambda invoke` (status, plan, migrate, revert, baseline)',
    );
    exported(d.proxyEndpoint, this.proxy.endpoint, 'RDS Proxy read/write endpoint (DB_HOST of the functions)');
    exported(d.proxyReadOnlyEndpoint, readOnlyEndpoint, 'RDS Proxy read-only endpoint (the writer endpoint when there is no reader)');
    exported(d.proxyName, this.proxy.dbProxyName, 'RDS Proxy name (metrics, log group /aws/rds/proxy/<name>)');
    exported(d.proxyClientSecurityGroupId, this.proxyClientSecurityGroup.securityGroupId, 'Security group a function wears to reach the proxy');
    // Built here, where the proxy ARN is a plain GetAtt: splitting an imported value in the consumer is
    // what cfn-lint rejects (E1022).
    exported(
      d.proxyAppUserArn,
      this.formatArn({
        service: 'rds-db',
        resource: 'dbuser',
        resourceName: `${Fn.select(6, Fn.split(':', this.proxy.dbProxyArn))}/${APP_DB_ROLE}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      'rds-db:connect resource for logging in to the proxy as the app role',
    );
    exported(d.clusterResourceId, this.cluster.clusterResourceIdentifier, 'Cluster resource id (rds-db:connect on the cluster)');
    exported(d.clusterIdentifier, this.cluster.clusterIdentifier, 'Cluster identifier (metrics, restore)');
    exported(d.appRoleName, APP_DB_ROLE, 'The database role functions log in as');
    exported(d.databaseName, DB_NAME, 'The database');
    exported(d.alarmTopicArn, this.alarmTopic.topicArn, 'SNS topic every alarm notifies');
    new CfnOutput(this, 'ClusterWriterEndpoint', { value: this.cluster.clusterEndpoint.hostname });
    new CfnOutput(this, 'MasterSecretArn', { value: masterSecret.secretArn });
    new CfnOutput(this, 'SchemaLogGroup', { value: schema.logGroup.logGroupName, description: 'Log group of schema-lambda' });
    new CfnOutput(this, 'ProxyLogGroup', { value: this.proxyLogGroupName(), description: 'Log group of RDS Proxy' });
    for (const log of settings.logOutputs) {
      new CfnOutput(this, log.outputId, {
        value: `/aws/rds/cluster/${this.cluster.clusterIdentifier}/${log.logExport}`,
        description: log.description,
      });
    }
    new CfnOutput(this, 'RotationLogGroup', {
      value: `/aws/lambda/${this.rotationFunctionName}`,
      description: 'Log group of the master secret rotation function',
    });

    acknowledgeLogRetention(this);
  }

  /** cdk-nag's Aurora MySQL rules that this design answers otherwise (AwsSolutions-RDS11 and RDS14). */
  private acknowledgeMysqlFindings() {
    Validations.of(this.cluster).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-RDS11',
        reason:
          'The cluster keeps MySQL\'s port 3306: RDS Proxy, which every function connects to, always listens on ' +
          'the engine\'s standard port, so another cluster port would hide nothing from a client, and the ' +
          'cluster only admits the proxy, schema-lambda and the rotation function by security group, in ' +
          'isolated subnets, with TLS required.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-RDS14',
        reason:
          'Recovery is point-in-time restore (bookstore:backupRetentionDays, at least 14 days in production) ' +
          'plus the daily AWS Backup copy to a second vault, the same runbook as on PostgreSQL; Backtrack would ' +
          'rewind the live cluster in place under the running functions, must be chosen when the cluster is ' +
          'created and is billed per change record.',
      },
    );
  }

  private proxyLogGroupName(): string {
    return `/aws/rds/proxy/${this.proxy.dbProxyName}`;
  }

  /** The alarm topic, encrypted with a key CloudWatch and EventBridge may use, SSL-only. */
  private buildAlarmTopic(config: BookstoreConfig): sns.Topic {
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the bookstore alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Alarms publish to an encrypted topic only if CloudWatch may use its key (the EventBridge target
    // below adds the same grant for events.amazonaws.com).
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PublishFromCloudWatch',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${config.stackPrefix} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (config.alarmEmail) topic.addSubscription(new snsSubscriptions.EmailSubscription(config.alarmEmail));
    return topic;
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const a = new cloudwatch.Alarm(this, id, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...props });
    const action = new cwActions.SnsAction(this.alarmTopic);
    a.addAlarmAction(action);
    a.addOkAction(action);
    this.alarms.push(a);
    return a;
  }

  /** The database's alarms: proxy pool against the budget, pinning, IAM logins, capacity, migrations, rotation. */
  private buildAlarms(config: BookstoreConfig, masterSecretArn: string) {
    const budget = connectionBudget(config);
    const proxyMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { ProxyName: this.proxy.dbProxyName },
        statistic,
        period: Duration.minutes(5),
      });
    const gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    this.alarm('ProxyConnectionsAlarm', {
      alarmDescription:
        `RDS Proxy holds more than 80% of its ${budget.proxyConnections} database connections ` +
        `(${config.proxy.maxConnectionsPercent}% of max_connections ${budget.maxConnections}); new sessions will wait and fail`,
      metric: proxyMetric('DatabaseConnections', 'Maximum'),
      threshold: Math.floor(budget.proxyConnections * 0.8),
      comparisonOperator: gt,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.alarm('ProxyPinnedSessionsAlarm', {
      alarmDescription:
        `More pinned proxy sessions than the functions' reserved concurrency (${budget.reserved}): sessions of ` +
        'frozen or dead containers are holding database connections',
      metric: proxyMetric('DatabaseConnectionsCurrentlySessionPinned', 'Maximum'),
      threshold: budget.reserved,
      comparisonOperator: gt,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.alarm('ProxyFailedIamLoginsAlarm', {
      alarmDescription: 'Clients failed to authenticate to RDS Proxy (IAM token, role or rds-db:connect drift)',
      metric: proxyMetric('ClientConnectionsSetupFailedAuth', 'Sum'),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
    });
    this.alarm('AuroraAtMaxCapacityAlarm', {
      alarmDescription: `Aurora has run at >= 90% of its max ${config.auroraMaxAcu} ACU for 15 minutes (raise bookstore:auroraMaxAcu)`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName: 'ServerlessDatabaseCapacity',
        dimensionsMap: { DBClusterIdentifier: this.cluster.clusterIdentifier },
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: 0.9 * config.auroraMaxAcu,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
    });
    this.alarm('SchemaFunctionErrorsAlarm', {
      alarmDescription: 'schema-lambda failed (a migrate, revert or baseline did not complete)',
      metric: this.schemaFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
    });
    this.alarm('RotationFunctionErrorsAlarm', {
      alarmDescription: 'The master secret rotation function failed',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensionsMap: { FunctionName: this.rotationFunctionName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
    });
    // Secrets Manager reports a failed rotation as a CloudTrail service event. The rule is not narrowed to
    // this secret's ARN: the event's field for it is not part of a documented pattern, and a rule that
    // never matches would be worse than one that also reports another secret of the account.
    const rotationFailed = new events.Rule(this, 'RotationFailedRule', {
      description: `Secret rotation failed or was abandoned (the bookstore master secret is ${masterSecretArn})`,
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: { eventSource: ['secretsmanager.amazonaws.com'], eventName: ['RotationFailed', 'RotationAbandoned'] },
      },
    });
    rotationFailed.addTarget(new eventTargets.SnsTopic(this.alarmTopic));
    Validations.of(rotationFailed).acknowledge({
      id: 'Serverless::Serverless-EventBusDLQ',
      reason:
        'The rule only forwards to the alarm topic, and the same failure pages through two alarms that do not ' +
        'depend on this delivery (TriggeredRules of this rule, Errors of the rotation function); a DLQ would be ' +
        'a queue nobody reads.',
    });
    this.alarm('RotationFailedAlarm', {
      alarmDescription: 'A Secrets Manager rotation failed or was abandoned (EventBridge RotationFailed rule matched)',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'TriggeredRules',
        dimensionsMap: { RuleName: rotationFailed.ruleName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
    });
  }

  /** AWS Backup: a daily backup of the cluster kept 35 days, copied to a second vault (another region or account). */
  private buildBackupPlan(config: BookstoreConfig) {
    const vault = new backup.BackupVault(this, 'BackupVault', { removalPolicy: RemovalPolicy.RETAIN });
    const copyVault = config.backupCopyVaultArn
      ? backup.BackupVault.fromBackupVaultArn(this, 'BackupCopyVault', config.backupCopyVaultArn)
      : new backup.BackupVault(this, 'BackupCopyVault', { removalPolicy: RemovalPolicy.RETAIN });
    const plan = new backup.BackupPlan(this, 'BackupPlan', { backupVault: vault });
    plan.addRule(
      new backup.BackupPlanRule({
        ruleName: 'DailyWithCopy',
        // 05:00 UTC: after Aurora's own backup window and the maintenance window.
        scheduleExpression: events.Schedule.cron({ minute: '0', hour: '5' }),
        deleteAfter: Duration.days(35),
        copyActions: [{ destinationBackupVault: copyVault, deleteAfter: Duration.days(35) }],
      }),
    );
    const selection = plan.addSelection('Cluster', {
      resources: [backup.BackupResource.fromRdsDatabaseCluster(this.cluster)],
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        'AWS Backup\'s service role for taking the backup; the AWS managed policy is the documented one and ' +
        'only lets AWS Backup snapshot and tag the resources its selection names.',
    });
  }

  /**
   * Retention on the log groups AWS creates by itself: RDS Proxy's, the rotation function's and the CDK
   * provider functions' (the LogRetention function sets its own to one day).
   */
  private retainServiceLogs() {
    const retain = (id: string, logGroupName: string) =>
      new logs.LogRetention(this, id, { logGroupName, retention: SERVICE_LOG_RETENTION });
    retain('ProxyLogRetention', this.proxyLogGroupName());
    retain('RotationLogRetention', `/aws/lambda/${this.rotationFunctionName}`);
    const provider = this.node.tryFindChild('AWSCDK.TriggerCustomResourceProviderCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) throw new Error('the triggers provider moved: update retainServiceLogs()');
    retain('TriggerProviderLogRetention', `/aws/lambda/${handler.ref}`);
  }
}
