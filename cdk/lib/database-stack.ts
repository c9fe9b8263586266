import { ArnFormat, CfnOutput, type CfnResource, Duration, Fn, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { APP_DB_ROLE, type BookstoreConfig, DB_NAME, DB_PORT, MASTER_USERNAME } from './config';
import { RustFunction } from './rust-function';
import { SUBNETS } from './network-stack';

/** Aurora PostgreSQL version: the newest 17.x that CDK names and cfn-lint still allows creating. */
export const AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9;

/** How long schema-lambda may run: lock wait (60 s default) plus the migrations themselves. */
export const SCHEMA_FUNCTION_TIMEOUT = Duration.minutes(10);

export interface DatabaseStackProps extends StackProps {
  readonly config: BookstoreConfig;
  readonly vpc: ec2.IVpc;
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
  readonly schemaCode: lambda.Code;
}

/** What the database stack hands to the app team's stack. */
export interface DatabaseForApps {
  /** RDS Proxy endpoint (`DB_HOST` of the functions). */
  readonly proxyEndpoint: string;
  /** The only security group the proxy accepts connections from. */
  readonly proxyClientSecurityGroup: ec2.ISecurityGroup;
  /** Runs `migrate` on deploy; functions must `executeBefore` on it. */
  readonly migrateTrigger: triggers.ITrigger;
  /**
   * The `rds-db:connect` resource that lets a role log in to the proxy as the app role, for use in
   * `consumer` (which is made to depend on this stack).
   */
  proxyAppUserArnFor(consumer: Stack): string;
}

/**
 * The database team's stack: Aurora PostgreSQL Serverless v2, RDS Proxy, the master secret and its
 * rotation, schema-lambda and the trigger that migrates on every deploy.
 *
 * Hands the app team only what `DatabaseForApps` lists: the proxy endpoint, the security group a
 * function must wear to reach the proxy, the proxy's connect resource for `bookstore_app`, and the
 * migrate trigger its functions must wait for.
 */
export class DatabaseStack extends Stack implements DatabaseForApps {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;
  /** The only security group the proxy accepts connections from; the app team attaches it to its functions. */
  readonly proxyClientSecurityGroup: ec2.SecurityGroup;
  readonly schemaFunction: lambda.Function;
  /** Runs `migrate` on deploy; app functions must `executeBefore` on it. */
  readonly migrateTrigger: triggers.Trigger;

  constructor(scope: Construct, id: string, props: DatabaseStackProps) {
    super(scope, id, props);
    Tags.of(this).add('bookstore:owner', 'database-team');
    const { config, vpc } = props;
    const tcp = ec2.Port.tcp(DB_PORT);

    // Security groups: nothing opens to a CIDR, every rule names its peer group.
    const sg = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc, description, allowAllOutbound: false });
    const clusterSg = sg('ClusterSg', 'Aurora: PostgreSQL from the proxy, the migrator and the rotation function');
    const proxySg = sg('ProxySg', 'RDS Proxy: PostgreSQL from proxy clients, to the cluster');
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

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: AURORA_POSTGRES_VERSION }),
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME),
      defaultDatabaseName: DB_NAME,
      port: DB_PORT,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.database },
      securityGroups: [clusterSg],
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      readers: Array.from({ length: config.auroraReaders }, (_, i) =>
        rds.ClusterInstance.serverlessV2(`Reader${i + 1}`, { scaleWithWriter: true, autoMinorVersionUpgrade: true }),
      ),
      serverlessV2MinCapacity: config.auroraMinAcu,
      serverlessV2MaxCapacity: config.auroraMaxAcu,
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: true,
      backup: { retention: Duration.days(7) },
      copyTagsToSnapshot: true,
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: logs.RetentionDays.ONE_MONTH,
    });
    const masterSecret = this.cluster.secret!;

    this.cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: { subnetGroupName: SUBNETS.functions },
      securityGroup: rotationSg,
      // Not during the deploy that creates it: schema-lambda reads this secret right after, and a
      // rotation in flight could change the password between its read and its login.
      rotateImmediatelyOnUpdate: false,
    });

    // End-to-end IAM: clients authenticate to the proxy with IAM tokens and the proxy authenticates
    // to Aurora with IAM too, so no password for bookstore_app exists anywhere (schema-lambda grants
    // it rds_iam). TLS is required on the client side.
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
    });

    const schema = new RustFunction(this, 'SchemaFunction', {
      description: 'schema-lambda: applies bookstore migrations on the Aurora writer',
      code: props.schemaCode,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.functions },
      securityGroup: schemaSg,
      timeout: SCHEMA_FUNCTION_TIMEOUT,
      environment: {
        DB_SECRET_ARN: masterSecret.secretArn,
        // The writer, never the proxy: the migration advisory lock must live on one direct session.
        DB_HOST: this.cluster.clusterEndpoint.hostname,
        DB_NAME,
        DB_SSLMODE: 'verify-full',
        DB_SSLROOTCERT: config.schemaSslRootCert,
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

    new CfnOutput(this, 'SchemaFunctionName', {
      description: 'schema-lambda, for `aws lambda invoke` (status, plan, migrate, revert, baseline)',
      value: this.schemaFunction.functionName,
    });
    new CfnOutput(this, 'ProxyEndpoint', { value: this.proxy.endpoint });
    // Built here, where the proxy ARN is a plain GetAtt: `grantConnect` in the consumer would split a
    // cross-stack Fn::GetStackOutput, which cfn-lint rejects (E1022) and CloudFormation's Fn::Split
    // does not document as an allowed input.
    const proxyAppUserArn = new CfnOutput(this, 'ProxyAppUserArn', {
      description: 'rds-db:connect resource for logging in to the proxy as the app role',
      value: this.formatArn({
        service: 'rds-db',
        resource: 'dbuser',
        resourceName: `${Fn.select(6, Fn.split(':', this.proxy.dbProxyArn))}/${APP_DB_ROLE}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    });
    proxyAppUserArn.overrideLogicalId('ProxyAppUserArn'); // proxyAppUserArnFor() reads it by this name
    new CfnOutput(this, 'ClusterWriterEndpoint', { value: this.cluster.clusterEndpoint.hostname });
    new CfnOutput(this, 'MasterSecretArn', { value: masterSecret.secretArn });

    this.acknowledgeNagFindings();
  }

  get proxyEndpoint(): string {
    return this.proxy.endpoint;
  }

  proxyAppUserArnFor(consumer: Stack): string {
    consumer.addStackDependency(this, 'reads the ProxyAppUserArn output');
    return Fn.getStackOutput(this.stackName, 'ProxyAppUserArn', this.region);
  }

  private acknowledgeNagFindings() {
    // cloudwatchLogsRetention adds CDK's LogRetention singleton function to this stack.
    const logRetention = this.node.children.find((c) => c.node.id.startsWith('LogRetention'));
    if (logRetention) {
      Validations.of(logRetention).acknowledge(
        {
          id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            'CDK\'s LogRetention singleton (sets the retention of the log group RDS creates for the ' +
            'postgresql log export); its role is generated by aws-cdk-lib and only writes its own logs.',
        },
        {
          id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
          reason:
            'CDK\'s LogRetention singleton: logs:PutRetentionPolicy/DeleteRetentionPolicy on a log group ' +
            'that RDS names after the cluster only once it exists, so the ARN is not known in advance.',
        },
      );
    }
  }
}
