import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { DOCUMENTED_ROUTES, MODELS } from './api-models';
import { BookstoreFunction, type FunctionRoute, type HttpMethod } from './bookstore-function';
import type { BookstoreConfig } from './config';
import { EXPORTS, exportName, importDatabase } from './exports';
import { acknowledgeLogRetention } from './nag';

/** The functions this repository deploys; other repositories add theirs with `BookstoreFunction`. */
export const APP_FUNCTIONS = ['books', 'reviews'] as const;
export type AppFunctionName = (typeof APP_FUNCTIONS)[number];

/** One API route: which function serves it, and what API Gateway checks first. */
export interface Route {
  readonly fn: AppFunctionName;
  readonly method: HttpMethod;
  readonly path: string;
  /** Name of a model in `MODELS` the JSON body must match. */
  readonly body?: string;
  /** Query-string parameters: name → required. */
  readonly query?: Record<string, boolean>;
}

/**
 * The route table (paths as the functions see them, without the stage prefix): every operation of
 * docs/openapi.json, served by the function its tag names.
 */
export const ROUTES: readonly Route[] = DOCUMENTED_ROUTES.map((r) => {
  if (!(APP_FUNCTIONS as readonly string[]).includes(r.fn)) {
    throw new Error(`docs/openapi.json: ${r.method} ${r.path} is tagged ${r.fn}, not one of ${APP_FUNCTIONS.join(', ')}`);
  }
  return { ...r, fn: r.fn as AppFunctionName };
});

/** Stage-wide throttle, and the lower one on every write route. */
export const THROTTLE = { rate: 100, burst: 200, writeRate: 20, writeBurst: 40 } as const;

export interface AppStackProps extends StackProps {
  readonly config: BookstoreConfig;
  /** The database stack's migrate trigger: every function waits for it. */
  readonly migrateTrigger: triggers.ITrigger;
  readonly code: (name: AppFunctionName) => lambda.Code;
}

/**
 * The app team's stack: the `books` and `reviews` functions, the REST API in front of them, its WAF, the
 * API alarms and the dashboard.
 *
 * The functions are `BookstoreFunction`s built from the network and database stacks' exports, exactly as
 * a stack in another repository builds its own. They reach only the RDS Proxy, as `bookstore_app` with an
 * IAM token, over verified TLS, and are ordered after the database stack's migrate trigger, so a new
 * function version never starts before the schema it expects is in place.
 */
export class AppStack extends Stack {
  readonly functions: Record<AppFunctionName, BookstoreFunction>;
  readonly api: apigw.RestApi;
  readonly apiServerErrorAlarm: cloudwatch.Alarm;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    Tags.of(this).add('bookstore:owner', 'app-team');
    const { config } = props;
    const database = importDatabase(this, config.stackPrefix, { engine: config.engine });

    this.api = this.buildApi(config);
    const stage = this.api.deploymentStage;
    // Metric dimensions name the stage literally: a Ref to the stage would make the alarm depend on the
    // stage, the stage on its deployment, the deployment on the methods, the methods on the alias, and
    // the alias (through its CodeDeploy update policy) on this alarm.
    const stageName = config.apiStageName;
    const alarmAction = new cwActions.SnsAction(database.alarmTopic);
    const alarm = (alarmId: string, alarmProps: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, alarmId, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...alarmProps });
      a.addAlarmAction(alarmAction);
      a.addOkAction(alarmAction);
      this.alarms.push(a);
      return a;
    };
    const apiMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: this.api.restApiName, Stage: stageName },
        statistic,
        period: Duration.minutes(1),
      });
    // Application failures (database down, schema behind) are HTTP 5xx from successful invocations:
    // Lambda's Errors metric never sees them, API Gateway's 5XXError does. Average = the 5xx rate.
    this.apiServerErrorAlarm = alarm('ApiServerErrorRateAlarm', {
      alarmDescription: 'More than 1% of API requests answered 5xx in 3 of 5 minutes; the canaries roll back on it',
      metric: apiMetric('5XXError', 'Average'),
      threshold: 0.01,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    alarm('ApiLatencyAlarm', {
      alarmDescription: 'API p99 latency above 2 s in 3 of 5 minutes',
      metric: apiMetric('Latency', 'p99'),
      threshold: 2000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });

    const models = new Map(
      Object.entries(MODELS).map(([name, m]) => [
        name,
        this.api.addModel(name, { modelName: name, contentType: 'application/json', description: m.description, schema: m.schema }),
      ]),
    );
    // One validator: each route declares its parameters (path parameters required, book_id an optional
    // filter) and, for writes, its body model.
    const validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // With CORS on, the functions answer preflights themselves (bookstore_kit::cors, from the same origins):
    // each function also gets OPTIONS on its paths.
    const preflights = (fn: AppFunctionName): FunctionRoute[] =>
      config.corsAllowedOrigins.length === 0
        ? []
        : [...new Set(ROUTES.filter((r) => r.fn === fn).map((r) => r.path))].map((p) => ({ method: 'OPTIONS' as const, path: p }));
    const routesOf = (fn: AppFunctionName): FunctionRoute[] => [
      ...ROUTES.filter((r) => r.fn === fn).map((r) => ({
        method: r.method,
        path: r.path,
        ...(r.query ? { queryParameters: r.query } : {}),
        ...(r.body ? { bodyModel: models.get(r.body)! } : {}),
      })),
      ...preflights(fn),
    ];
    const environment =
      config.corsAllowedOrigins.length === 0 ? undefined : { CORS_ALLOWED_ORIGINS: config.corsAllowedOrigins.join(',') };
    const make = (name: AppFunctionName, description: string) =>
      new BookstoreFunction(this, name === 'books' ? 'BooksFunction' : 'ReviewsFunction', {
        name,
        description,
        code: props.code(name),
        database,
        api: { api: this.api, stageName, deploymentAlarms: [this.apiServerErrorAlarm], validator },
        routes: routesOf(name),
        ...(environment ? { environment } : {}),
        reservedConcurrency: config.concurrency[name],
        sslRootCert: config.sslRootCert,
        deploymentConfig:
          config.canary === 'canary'
            ? codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES
            : codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
      });
    this.functions = {
      books: make('books', 'bookstore books API (/book, /book/{id})'),
      reviews: make('reviews', 'bookstore reviews API (/review, /review/{id}, GET /book/{id}/reviews)'),
    };
    // No function may change before the schema is migrated to the version it was built with.
    props.migrateTrigger.executeBefore(...Object.values(this.functions).map((f) => f.fn));

    this.buildWaf(config);
    this.buildDashboard(config);
    this.buildQueries();

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the bookstore API, stage included', value: this.api.url });
    new CfnOutput(this, 'ApiExecutionLogGroup', {
      description: 'API Gateway execution log group (errors only)',
      value: this.executionLogGroupName(),
    });
    const exported = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description, exportName: exportName(config.stackPrefix, name) });
    const a = EXPORTS.app;
    exported(a.restApiId, this.api.restApiId, 'REST API id (outside stacks add routes to it)');
    exported(a.restApiRootResourceId, this.api.restApiRootResourceId, 'Root resource id of the REST API');
    exported(a.restApiName, this.api.restApiName, 'REST API name (the ApiName metric dimension)');
    exported(a.stageName, stage.stageName, 'The deployed stage');
    exported(a.apiServerErrorAlarmName, this.apiServerErrorAlarm.alarmName, 'API 5xx-rate alarm every canary rolls back on');
    acknowledgeLogRetention(this);
  }

  private executionLogGroupName(): string {
    return `API-Gateway-Execution-Logs_${this.api.restApiId}/${this.api.deploymentStage.stageName}`;
  }

  private buildApi(config: BookstoreConfig): apigw.RestApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Writes get a lower per-method limit than the stage (the WAF adds per-IP limits in front).
    const writeThrottle: apigw.MethodDeploymentOptions = { throttlingRateLimit: THROTTLE.writeRate, throttlingBurstLimit: THROTTLE.writeBurst };
    const methodOptions = Object.fromEntries(
      ROUTES.filter((r) => r.method !== 'GET' && r.method !== 'OPTIONS').map((r) => [`${r.path}/${r.method}`, writeThrottle]),
    );
    const api = new apigw.RestApi(this, 'Api', {
      restApiName: `${config.stackPrefix}-bookstore`,
      description: 'Bookstore API (books and reviews)',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // API Gateway writes access and execution logs through an account-wide role (one per region).
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: config.apiStageName,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: accessLogFormat(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: THROTTLE.rate,
        throttlingBurstLimit: THROTTLE.burst,
        methodOptions,
      },
    });
    // One URL output, ours, instead of RestApi's generated one.
    api.node.tryRemoveChild('Endpoint');
    // API Gateway creates the execution log group itself, without retention.
    new logs.LogRetention(this, 'ApiExecutionLogRetention', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${config.apiStageName}`,
      retention: logs.RetentionDays.ONE_MONTH,
    });

    // A body the validator refuses answers 400 in the functions' own error shape
    // ({"error": {"code", "message"}}). $context.error.messageString is already a quoted JSON string;
    // validationErrorString is not (it holds raw quotes), so it goes to the access log instead.
    api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      templates: { 'application/json': '{"error":{"code":"invalid_body","message":$context.error.messageString}}' },
    });

    Validations.of(api).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'This is API Gateway\'s account-wide logging role (AWS::ApiGateway::Account), shared by every REST API ' +
        'in the account and region, so it cannot be scoped to this API\'s log groups; the AWS managed policy ' +
        'is the documented one for it.',
    });
    // AwsSolutions-APIG4/COG4 (no authorizer: the API is public by design) are acknowledged on each
    // method by BookstoreFunction, so a route from another repository carries the same reason.
    return api;
  }

  /** A regional web ACL on the stage: per-IP rate limits (tighter on writes) and AWS managed rule groups. */
  private buildWaf(config: BookstoreConfig) {
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    const managed = (priority: number, name: string) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    });
    const writeMethods = ['POST', 'PUT', 'PATCH', 'DELETE'].map((m) => ({
      byteMatchStatement: {
        fieldToMatch: { method: {} },
        positionalConstraint: 'EXACTLY',
        searchString: m,
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    }));
    const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: 'Bookstore API: per-IP rate limits and AWS managed rules',
      visibilityConfig: visibility('BookstoreWebAcl'),
      rules: [
        {
          name: 'RatePerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: config.wafRateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RatePerIp'),
        },
        {
          name: 'WriteRatePerIp',
          priority: 1,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: config.wafWriteRateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: { orStatement: { statements: writeMethods } },
            },
          },
          visibilityConfig: visibility('WriteRatePerIp'),
        },
        managed(2, 'AWSManagedRulesAmazonIpReputationList'),
        managed(3, 'AWSManagedRulesCommonRuleSet'),
        managed(4, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: acl.attrArn,
    });
  }

  /** One dashboard: API, each function, the proxy and Aurora. */
  private buildDashboard(config: BookstoreConfig) {
    const stageName = config.apiStageName;
    const api = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: this.api.restApiName, Stage: stageName },
        statistic,
        label,
        period: Duration.minutes(1),
      });
    const rds = (metricName: string, dimensionsMap: Record<string, string>, statistic = 'Maximum') =>
      new cloudwatch.Metric({ namespace: 'AWS/RDS', metricName, dimensionsMap, statistic, period: Duration.minutes(1) });
    const proxyName = importValue(config.stackPrefix, EXPORTS.database.proxyName);
    const clusterId = importValue(config.stackPrefix, EXPORTS.database.clusterIdentifier);
    const fns = Object.values(this.functions);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${config.stackPrefix}-bookstore`,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms, ...fns.flatMap((f) => f.alarms)], width: 24 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and error rates',
        left: [api('Count', 'Sum', 'requests')],
        right: [api('5XXError', 'Average', '5xx rate'), api('4XXError', 'Average', '4xx rate')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency',
        left: [api('Latency', 'p50', 'p50'), api('Latency', 'p99', 'p99'), api('IntegrationLatency', 'p99', 'integration p99')],
        width: 12,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Functions: errors and throttles',
        left: fns.flatMap((f) => [f.fn.metricErrors({ label: `${f.node.id} errors` }), f.fn.metricThrottles({ label: `${f.node.id} throttles` })]),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Functions: concurrency and p99 duration',
        left: fns.map((f) => f.fn.metric('ConcurrentExecutions', { statistic: 'Maximum', label: `${f.node.id} concurrency` })),
        right: fns.map((f) => f.fn.metricDuration({ statistic: 'p99', label: `${f.node.id} p99 ms` })),
        width: 12,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'RDS Proxy: connections',
        left: [
          rds('DatabaseConnections', { ProxyName: proxyName }),
          rds('DatabaseConnectionsCurrentlySessionPinned', { ProxyName: proxyName }),
          rds('ClientConnections', { ProxyName: proxyName }),
        ],
        right: [rds('ClientConnectionsSetupFailedAuth', { ProxyName: proxyName }, 'Sum')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Aurora: capacity and connections',
        left: [rds('ServerlessDatabaseCapacity', { DBClusterIdentifier: clusterId })],
        right: [rds('DatabaseConnections', { DBClusterIdentifier: clusterId })],
        leftAnnotations: [{ value: config.auroraMaxAcu, label: 'max ACU' }],
        width: 12,
      }),
    );
  }

  /** Saved CloudWatch Logs Insights queries over the functions' JSON logs and the API access log. */
  private buildQueries() {
    const functionLogs = Object.values(this.functions).map((f) => f.logGroup.logGroupName);
    const accessLogs = (this.node.findChild('ApiAccessLogs') as logs.LogGroup).logGroupName;
    new logs.QueryDefinition(this, 'ErrorsByCodeQuery', {
      queryDefinitionName: `${this.stackName}/errors-by-code`,
      logGroups: functionLogs.map((name, i) => logs.LogGroup.fromLogGroupName(this, `QueryFunctionLogs${i}`, name)),
      queryString: new logs.QueryString({
        // Every refused or failed request is logged with the code it answered (`error.code`, e.g.
        // database_unavailable at ERROR, invalid_body at INFO): bookstore-functions/src/error.rs.
        filterStatements: ['ispresent(`error.code`)'],
        statsStatements: ['count(*) as requests by `error.code`, level'],
        sort: 'requests desc',
      }),
    });
    new logs.QueryDefinition(this, 'SlowRequestsQuery', {
      queryDefinitionName: `${this.stackName}/slow-requests`,
      logGroups: [logs.LogGroup.fromLogGroupName(this, 'QueryAccessLogs', accessLogs)],
      queryString: new logs.QueryString({
        fields: ['@timestamp', 'httpMethod', 'resourcePath', 'status', 'responseLatency', 'integrationLatency', 'requestId'],
        filterStatements: ['responseLatency > 1000'],
        sort: 'responseLatency desc',
        limit: 100,
      }),
    });
  }
}

/** `Fn::ImportValue` of a bookstore export. */
function importValue(stackPrefix: string, name: string): string {
  return Fn.importValue(exportName(stackPrefix, name));
}

/** JSON access log lines: the standard fields plus latency and why API Gateway refused or failed a call. */
function accessLogFormat(): apigw.AccessLogFormat {
  const F = apigw.AccessLogField;
  return apigw.AccessLogFormat.custom(
    JSON.stringify({
      requestId: F.contextRequestId(),
      ip: F.contextIdentitySourceIp(),
      requestTime: F.contextRequestTime(),
      httpMethod: F.contextHttpMethod(),
      resourcePath: F.contextResourcePath(),
      status: F.contextStatus(),
      protocol: F.contextProtocol(),
      responseLength: F.contextResponseLength(),
      responseLatency: F.contextResponseLatency(),
      integrationLatency: F.contextIntegrationLatency(),
      integrationStatus: F.contextIntegrationStatus(),
      error: F.contextErrorMessage(),
      validationError: F.contextErrorValidationErrorString(),
      integrationError: F.contextIntegrationErrorMessage(),
      xrayTraceId: F.contextXrayTraceId(),
    }),
  );
}
