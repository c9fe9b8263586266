/**
 * The CloudFormation exports a stack in another repository needs to add a function to the bookstore, and
 * the one way to import them.
 *
 * Names are `<stackPrefix>:<Name>` (for example `Bookstore:ProxyEndpoint`) and never change: other teams'
 * stacks import them with `Fn::ImportValue`, and CloudFormation then refuses to delete or change an export
 * while it is imported (a replaced proxy cannot leave a consumer on a dead endpoint).
 */
import { Fn, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DatabaseEngine, DEFAULT_DB_ENGINE } from './config';

/** Every export, by the stack that owns it. The values are the name after `<stackPrefix>:`. */
export const EXPORTS = {
  network: {
    vpcId: 'VpcId',
    /** Comma-separated, in the order of `functionSubnetIds`. */
    availabilityZones: 'AvailabilityZones',
    /** Comma-separated ids of the isolated subnets functions run in. */
    functionSubnetIds: 'FunctionSubnetIds',
  },
  database: {
    proxyEndpoint: 'ProxyEndpoint',
    proxyReadOnlyEndpoint: 'ProxyReadOnlyEndpoint',
    proxyName: 'ProxyName',
    /** The only security group the proxy admits; a function wears it. */
    proxyClientSecurityGroupId: 'ProxyClientSecurityGroupId',
    /** `arn:…:rds-db:…:dbuser:prx-…/bookstore_app`: the `rds-db:connect` resource for the app role. */
    proxyAppUserArn: 'ProxyAppUserArn',
    /** The cluster's resource id (`cluster-…`), for `rds-db:connect` ARNs on the cluster itself. */
    clusterResourceId: 'ClusterResourceId',
    clusterIdentifier: 'ClusterIdentifier',
    /** The login role the functions use (`bookstore_app`). */
    appRoleName: 'AppRoleName',
    databaseName: 'DatabaseName',
    alarmTopicArn: 'AlarmTopicArn',
    schemaFunctionName: 'SchemaFunctionName',
  },
  app: {
    restApiId: 'RestApiId',
    restApiRootResourceId: 'RestApiRootResourceId',
    restApiName: 'RestApiName',
    stageName: 'ApiStageName',
    /** The API 5xx-rate alarm; an outside function's canary rolls back on it too. */
    apiServerErrorAlarmName: 'ApiServerErrorAlarmName',
  },
} as const;

/** The export name of `name` for the environment `stackPrefix`. */
export function exportName(stackPrefix: string, name: string): string {
  return `${stackPrefix}:${name}`;
}

/** Subnets of the network stack: two AZs (`maxAzs: 2`). */
export const NETWORK_AZ_COUNT = 2;

/** What a function of the bookstore needs from the network and database stacks. */
export interface BookstoreDatabaseRef {
  /** The engine behind the proxy: it decides the functions' port and client settings. */
  readonly engine: DatabaseEngine;
  readonly vpc: ec2.IVpc;
  readonly functionSubnets: ec2.SubnetSelection;
  readonly proxyEndpoint: string;
  readonly proxyReadOnlyEndpoint: string;
  readonly proxyClientSecurityGroup: ec2.ISecurityGroup;
  readonly proxyAppUserArn: string;
  readonly appRoleName: string;
  readonly databaseName: string;
  readonly alarmTopic: sns.ITopic;
}

/** The REST API a function adds routes to. */
export interface BookstoreApiRef {
  readonly api: apigw.IRestApi;
  readonly stageName: string;
  /**
   * Set when the API belongs to another stack: this stack's deployment of the same stage, which the routes
   * added here join (API Gateway serves a new method only after a deployment).
   */
  readonly deployment?: apigw.Deployment;
  /** Alarms every function's canary rolls back on, besides its own alias errors (the API 5xx rate). */
  readonly deploymentAlarms: readonly cloudwatch.IAlarm[];
  /**
   * Checks the declared parameters and JSON bodies of a route. A function that needs one and finds none
   * here creates its own.
   */
  readonly validator?: apigw.IRequestValidator;
}

/** Everything imported from the bookstore's exports. */
export interface BookstoreImports {
  readonly database: BookstoreDatabaseRef;
  readonly api: BookstoreApiRef;
}

/** How to import the bookstore's database. */
export interface ImportDatabaseOptions {
  /**
   * The engine the bookstore environment was deployed with (its `bookstore:engine`). It is not an export:
   * ask the database team, and pass `'mysql'` for an Aurora MySQL environment.
   *
   * @default 'postgres'
   */
  readonly engine?: DatabaseEngine;
}

/**
 * Imports the bookstore's exports into `scope`'s stack with `Fn::ImportValue`: how a stack in another
 * repository (or the bookstore's own app stack) gets the database, network and API to add a function to.
 * Call it once per stack.
 */
export function importBookstore(scope: Construct, stackPrefix: string, options: ImportDatabaseOptions = {}): BookstoreImports {
  return { database: importDatabase(scope, stackPrefix, options), api: importApi(scope, stackPrefix) };
}

/** The network and database half of `importBookstore`. */
export function importDatabase(scope: Construct, stackPrefix: string, options: ImportDatabaseOptions = {}): BookstoreDatabaseRef {
  const value = (name: string) => Fn.importValue(exportName(stackPrefix, name));
  const list = (name: string) =>
    Array.from({ length: NETWORK_AZ_COUNT }, (_, i) => Fn.select(i, Fn.split(',', value(name))));
  const d = EXPORTS.database;
  const n = EXPORTS.network;
  const vpc = ec2.Vpc.fromVpcAttributes(scope, 'BookstoreVpc', {
    vpcId: value(n.vpcId),
    availabilityZones: list(n.availabilityZones),
    isolatedSubnetIds: list(n.functionSubnetIds),
  });
  Validations.of(vpc).acknowledge({
    id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
    reason:
      'The imported function subnets are only placed into a Lambda VpcConfig; nothing reads their route ' +
      'tables (isolated subnets with the local route only).',
  });
  return {
    engine: options.engine ?? DEFAULT_DB_ENGINE,
    vpc,
    functionSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    proxyEndpoint: value(d.proxyEndpoint),
    proxyReadOnlyEndpoint: value(d.proxyReadOnlyEndpoint),
    proxyClientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(scope, 'BookstoreProxyClientSg', value(d.proxyClientSecurityGroupId), {
      // The database team owns its rules (egress to the proxy only); never add any from here.
      mutable: false,
      allowAllOutbound: false,
    }),
    proxyAppUserArn: value(d.proxyAppUserArn),
    appRoleName: value(d.appRoleName),
    databaseName: value(d.databaseName),
    alarmTopic: sns.Topic.fromTopicArn(scope, 'BookstoreAlarmTopic', value(d.alarmTopicArn)),
  };
}

/** The API half of `importBookstore`: the REST API, its stage, a deployment of it from this stack. */
export function importApi(scope: Construct, stackPrefix: string): BookstoreApiRef {
  const value = (name: string) => Fn.importValue(exportName(stackPrefix, name));
  const a = EXPORTS.app;
  const api = apigw.RestApi.fromRestApiAttributes(scope, 'BookstoreApi', {
    restApiId: value(a.restApiId),
    rootResourceId: value(a.restApiRootResourceId),
    restApiName: value(a.restApiName),
  });
  const stageName = value(a.stageName);
  // Invoke permissions are scoped to this stage (`deploymentStage` is documented as assignable for an
  // imported API; only its stageName is read).
  (api as apigw.RestApiBase).deploymentStage = apigw.Stage.fromStageAttributes(scope, 'BookstoreStage', {
    restApi: api,
    stageName,
  }) as unknown as apigw.Stage;
  const deployment = new apigw.Deployment(scope, 'BookstoreApiDeployment', {
    api,
    stageName,
    description: 'Routes added by this stack, deployed to the bookstore stage',
  });
  return {
    api,
    stageName,
    deployment,
    deploymentAlarms: [cloudwatch.Alarm.fromAlarmName(scope, 'BookstoreApiServerErrors', value(a.apiServerErrorAlarmName))],
  };
}
