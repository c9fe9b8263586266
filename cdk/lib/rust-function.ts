import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Props of a Rust `provided.al2023` function placed in the VPC. */
export interface RustFunctionProps {
  readonly description: string;
  readonly code: lambda.Code;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly environment: Record<string, string>;
  readonly timeout: Duration;
  readonly memorySize?: number;
  /** Reserved concurrency: the most containers (so proxy sessions) this function can hold at once. */
  readonly reservedConcurrentExecutions: number;
  /** How long its log group keeps events. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One Rust Lambda (the `bootstrap` of a `provided.al2023` x86_64 zip) in the VPC, with its own log group
 * and an execution role that holds only what every VPC function needs: writing to that log group,
 * managing its network interfaces and sending X-Ray traces. Callers add their own grants to `fn`.
 *
 * Every function has reserved concurrency (the connection budget counts it), active tracing, and JSON
 * logs (the platform's START/REPORT lines become JSON too, and the Rust runtime's default subscriber
 * switches to JSON on `AWS_LAMBDA_LOG_FORMAT=JSON`).
 *
 * The role is built by hand instead of attaching AWSLambdaBasicExecutionRole and
 * AWSLambdaVPCAccessExecutionRole, so that logging is scoped to this function's log group.
 */
export class RustFunction extends Construct {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RustFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
      inlinePolicies: {
        // Inline in the role so the permissions exist before the function and outlive its ENIs.
        vpcNetworkInterfaces: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'LambdaHyperplaneEni',
              actions: [
                'ec2:CreateNetworkInterface',
                'ec2:DescribeNetworkInterfaces',
                'ec2:DescribeSubnets',
                'ec2:DeleteNetworkInterface',
                'ec2:AssignPrivateIpAddresses',
                'ec2:UnassignPrivateIpAddresses',
              ],
              resources: ['*'],
            }),
          ],
        }),
        writeOwnLogs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'WriteOwnLogGroup',
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [this.logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'Serverless::Serverless-LambdaStarPermissions',
      reason:
        'The only "*" resources are the Hyperplane ENI actions of a VPC function and the X-Ray trace upload, ' +
        'neither of which has resource-level permissions (see the AwsSolutions-IAM5 acknowledgement).',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'Lambda manages the VPC function\'s Hyperplane ENIs with these EC2 actions; ec2:Describe* has no ' +
        'resource-level permissions and the ENI ids are not known in advance (same statement as ' +
        'AWSLambdaVPCAccessExecutionRole, without its logs:* on every log group). Active tracing adds ' +
        'xray:PutTraceSegments/PutTelemetryRecords, which X-Ray only grants on "*".',
    });

    this.fn = new lambda.Function(this, 'Function', {
      description: props.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: props.code,
      role: this.role,
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [props.securityGroup],
      allowPublicSubnet: false,
      environment: props.environment,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      // Adds xray:PutTraceSegments/PutTelemetryRecords on "*" to the role (X-Ray has no resource-level
      // permissions); covered by the IAM5 acknowledgement above and listed in the wildcard inventory test.
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    });
    Validations.of(this.fn).acknowledge({
      id: 'Serverless::Serverless-LambdaDLQ',
      reason:
        'Not applicable: the bookstore functions are only invoked synchronously (API Gateway, the migrate ' +
        'trigger and operators with RequestResponse), and a dead-letter target only receives failed ' +
        'asynchronous invocations.',
    });
  }
}
