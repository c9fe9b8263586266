/**
 * `BookstoreFunction`: one API function of the bookstore, built the same way whether it lives in this
 * repository (books, reviews) or in an app team's own CDK app in another repository.
 *
 * ```ts
 * const bookstore = importBookstore(this, 'Bookstore');            // Fn::ImportValue of the exports
 * new BookstoreFunction(this, 'Authors', {
 *   name: 'authors',
 *   code: 'target/lambda/authors/bootstrap.zip',
 *   database: bookstore.database,
 *   api: bookstore.api,
 *   routes: [{ method: 'GET', path: '/author/{name}/books' }],
 *   reservedConcurrency: 5,
 * });
 * ```
 */
import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type DatabaseEngine, dbPort } from './config';
import type { BookstoreApiRef, BookstoreDatabaseRef } from './exports';
import { RustFunction } from './rust-function';

/** An HTTP method API Gateway routes to a function. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** One API route of a function. */
export interface FunctionRoute {
  readonly method: HttpMethod;
  /** The path as the function sees it (no stage prefix), with `{param}` segments. */
  readonly path: string;
  /** A model the JSON body must match (API Gateway answers 400 `invalid_body` otherwise). */
  readonly bodyModel?: apigw.IModel;
  /**
   * Query-string parameters the route declares: name → required. Path parameters (`{name}`) are declared
   * (required) from the path itself.
   */
  readonly queryParameters?: Record<string, boolean>;
}

/** Props of `BookstoreFunction`. */
export interface BookstoreFunctionProps {
  /** Short name (`books`, `authors`): the construct's outputs and alarms are named after it. */
  readonly name: string;
  /** The Lambda zip: a path to `bootstrap.zip`, or any `lambda.Code`. */
  readonly code: string | lambda.Code;
  /** The bookstore's network and database, from `importBookstore` (or the stacks themselves). */
  readonly database: BookstoreDatabaseRef;
  /** The REST API the routes are added to. */
  readonly api: BookstoreApiRef;
  readonly routes: readonly FunctionRoute[];
  /**
   * Reserved concurrency. Each container holds one proxy session (pinned), so this is the function's share
   * of the database's connection budget: agree it with the database team.
   */
  readonly reservedConcurrency: number;
  /** Extra environment; cannot override the `DB_*` settings (nor `PGTZ` / `LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN`). */
  readonly environment?: Record<string, string>;
  readonly memorySize?: number;
  /** @default 15 seconds (API Gateway gives up at 29 s). */
  readonly timeout?: Duration;
  /** A human description of the function. */
  readonly description?: string;
  /** `DB_SSLROOTCERT`: RDS Proxy's certificate chains to Amazon's public roots, in this system bundle. */
  readonly sslRootCert?: string;
  /** How a new version takes traffic. @default 10% for 5 minutes, then all */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;
  readonly logRetention?: logs.RetentionDays;
}

/** The environment every bookstore function reads (see `.env.sample` of the function kit). */
export function databaseEnvironment(database: BookstoreDatabaseRef, sslRootCert: string): Record<string, string> {
  return {
    DB_HOST: database.proxyEndpoint,
    // Lists and gets read from the replicas through the proxy's read-only endpoint (the
    // writer's when the cluster has no reader: the kit then keeps one pool).
    DB_READER_HOST: database.proxyReadOnlyEndpoint,
    DB_PORT: String(dbPort(database.engine)),
    DB_NAME: database.databaseName,
    DB_USER: database.appRoleName,
    // Mint an RDS IAM token per new connection (local SigV4 signing: no network call).
    DB_IAM_AUTH: 'true',
    // On MySQL the Rust side maps verify-full to ssl_mode=VERIFY_IDENTITY (chain and host name).
    DB_SSLMODE: 'verify-full',
    DB_SSLROOTCERT: sslRootCert,
    ...engineEnvironment(database.engine),
    RUST_LOG: 'info',
  };
}

/**
 * What only one engine's client reads. PostgreSQL is the Rust side's default engine, so its functions carry no
 * `DB_ENGINE` (and their environment is what it was before the MySQL variant).
 */
export function engineEnvironment(engine: DatabaseEngine): Record<string, string> {
  switch (engine) {
    case 'postgres':
      return {
        // libpq sends it as the `TimeZone` startup parameter: the proxy and the server report
        // UTC, so diesel sends no `SET TIME ZONE` (a `SET` pins an RDS Proxy session). Named
        // prepared statements stay on: they no longer pin (RDS Proxy, November 2023) and halve
        // a read's latency (docs/benchmarks.md).
        PGTZ: 'UTC',
      };
    case 'mysql':
      return {
        DB_ENGINE: 'mysql',
        // An IAM token is a password the server must see as sent: MySQL's client only uses the
        // mysql_clear_password plugin when this is set. It travels inside the TLS session that
        // DB_SSLMODE requires (the proxy refuses clients without TLS as well).
        LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN: '1',
      };
  }
}

/** API Gateway's `requestParameters` of a route: its path parameters (required) and declared query strings. */
export function routeParameters(route: FunctionRoute): Record<string, boolean> {
  const parameters: Record<string, boolean> = {};
  for (const [, name] of route.path.matchAll(/\{([^}+]+)\+?\}/g)) parameters[`method.request.path.${name}`] = true;
  for (const [name, required] of Object.entries(route.queryParameters ?? {})) {
    parameters[`method.request.querystring.${name}`] = required;
  }
  return parameters;
}

/** Default `DB_SSLROOTCERT` of a function behind the proxy (provided.al2023's system bundle). */
export const SYSTEM_CA_BUNDLE = '/etc/pki/tls/certs/ca-bundle.crt';

/**
 * A bookstore API function: the Rust zip in the isolated subnets wearing the proxy-client security group,
 * allowed to log in to the proxy as the app role only, with the database environment, a log group with
 * retention, reserved concurrency, tracing; a `live` alias that a CodeDeploy canary moves (rolling back on
 * the alias's errors and on the API's 5xx alarm); alarms on errors, throttles and duration; and its API
 * routes, which invoke the alias.
 */
export class BookstoreFunction extends Construct {
  readonly fn: lambda.Function;
  /** The alias API Gateway invokes; `aws lambda update-alias --name live` rolls back by hand. */
  readonly alias: lambda.Alias;
  readonly logGroup: logs.LogGroup;
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly methods: readonly apigw.Method[];

  constructor(scope: Construct, id: string, props: BookstoreFunctionProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]*$/.test(props.name)) {
      throw new Error(`BookstoreFunction name must be lower-case letters, digits and '-', got '${props.name}'`);
    }
    if (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1) {
      throw new Error(`BookstoreFunction ${props.name}: reservedConcurrency must be a whole number >= 1`);
    }
    const timeout = props.timeout ?? Duration.seconds(15);
    if (timeout.toSeconds() > 29) {
      throw new Error(`BookstoreFunction ${props.name}: timeout must be at most 29 s (API Gateway's integration limit)`);
    }
    const { database } = props;
    const dbEnv = databaseEnvironment(database, props.sslRootCert ?? SYSTEM_CA_BUNDLE);
    const clash = Object.keys(props.environment ?? {}).filter((k) => k in dbEnv);
    if (clash.length > 0) {
      throw new Error(`BookstoreFunction ${props.name}: environment must not override ${clash.join(', ')}`);
    }

    const rust = new RustFunction(this, 'Fn', {
      description: props.description ?? `bookstore function ${props.name}`,
      code: typeof props.code === 'string' ? lambda.Code.fromAsset(props.code) : props.code,
      vpc: database.vpc,
      vpcSubnets: database.functionSubnets,
      securityGroup: database.proxyClientSecurityGroup,
      timeout,
      memorySize: props.memorySize,
      environment: { ...dbEnv, ...props.environment },
      reservedConcurrentExecutions: props.reservedConcurrency,
      logRetention: props.logRetention,
    });
    this.fn = rust.fn;
    this.logGroup = rust.logGroup;
    // rds-db:connect on the proxy's db user for the app role, and nothing else.
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConnectToProxyAsAppRole',
        actions: ['rds-db:connect'],
        resources: [database.proxyAppUserArn],
      }),
    );

    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.fn.currentVersion,
      description: 'What API Gateway invokes; CodeDeploy shifts it to each new version',
    });

    const action = new cwActions.SnsAction(database.alarmTopic);
    const alarm = (name: string, alarmProps: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.IMetric }) => {
      const a = new cloudwatch.Alarm(this, name, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      return a;
    };
    const fiveMinutes = Duration.minutes(5);
    const aliasErrors = alarm('AliasErrors', {
      alarmDescription: `${props.name}: the live alias failed invocations (panic, timeout, init error); the canary rolls back on it`,
      metric: this.alias.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const throttles = alarm('Throttles', {
      alarmDescription: `${props.name}: invocations refused at reserved concurrency ${props.reservedConcurrency} (the connection bulkhead)`,
      metric: this.fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const errors = alarm('Errors', {
      alarmDescription: `${props.name}: failed invocations on any version`,
      metric: this.fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const durationLimitMs = Math.floor(timeout.toMilliseconds() * 0.8);
    const duration = alarm('Duration', {
      alarmDescription: `${props.name}: p99 duration above 80% of the ${timeout.toSeconds()} s timeout`,
      metric: this.fn.metricDuration({ period: fiveMinutes, statistic: 'p99' }),
      threshold: durationLimitMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.alarms = [aliasErrors, throttles, errors, duration];

    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'Deployment', {
      alias: this.alias,
      deploymentConfig: props.deploymentConfig ?? codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      alarms: [aliasErrors, ...props.api.deploymentAlarms],
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });
    Validations.of(this.deploymentGroup).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason:
        'CodeDeploy\'s service role for Lambda canaries: the AWS managed policy only lets CodeDeploy update ' +
        'aliases and invoke hooks whose names start with CodeDeployHook_, the narrowest documented policy.',
    });

    // allowTestInvoke: false keeps one invoke permission per route, scoped to its stage, method and path.
    const integration = new apigw.LambdaIntegration(this.alias, { proxy: true, allowTestInvoke: false });
    let validator = props.api.validator;
    this.methods = props.routes.map((route) => {
      const requestParameters = routeParameters(route);
      const validate = route.bodyModel !== undefined || Object.keys(requestParameters).length > 0;
      if (validate && !validator) {
        validator = new apigw.RequestValidator(this, 'Validator', {
          restApi: props.api.api,
          validateRequestBody: true,
          validateRequestParameters: true,
        });
      }
      const resource = props.api.api.root.resourceForPath(route.path);
      const method = resource.addMethod(route.method, integration, {
        ...(validate ? { requestValidator: validator, requestParameters } : {}),
        ...(route.bodyModel ? { requestModels: { 'application/json': route.bodyModel } } : {}),
      });
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason:
            'The bookstore API is public by design (no caller identity); routes added to it follow the API\'s ' +
            'own acknowledgement, behind its WAF and stage throttling.',
        },
        {
          id: 'AwsSolutions::AwsSolutions-COG4',
          reason: 'No Cognito user pool exists for the bookstore API (see AwsSolutions-APIG4: the API is public by design).',
        },
      );
      if (props.api.deployment) {
        props.api.deployment.node.addDependency(method);
        props.api.deployment.addToLogicalId({ fn: props.name, method: route.method, path: route.path });
      }
      return method;
    });

    const stack = Stack.of(this);
    const outputId = props.name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
    new CfnOutput(stack, `${outputId}LogGroup`, {
      description: `Log group of the ${props.name} function`,
      value: this.logGroup.logGroupName,
    });
    new CfnOutput(stack, `${outputId}FunctionName`, {
      description: `The ${props.name} function; roll back with aws lambda update-alias --name live`,
      value: this.fn.functionName,
    });
  }
}
