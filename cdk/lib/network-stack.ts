import { type CfnResource, CfnOutput, Fn, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { EXPORTS, exportName, NETWORK_AZ_COUNT } from './exports';
import { acknowledgeLogRetention } from './nag';

/** Subnet group names, used by the other stacks to pick their placement. */
export const SUBNETS = {
  /** The functions, the migrator, the rotation function and the Secrets Manager endpoint. */
  functions: 'Functions',
  /** Aurora and RDS Proxy. */
  database: 'Database',
} as const;

export interface NetworkStackProps extends StackProps {
  readonly vpcCidr: string;
  /** Prefix of the export names (`<prefix>:VpcId`, ...). */
  readonly exportPrefix: string;
}

/**
 * The network, owned by the database team: a VPC with no internet path at all.
 *
 * Both subnet groups are PRIVATE_ISOLATED (no NAT, no internet gateway). Nothing here needs the
 * internet: books/reviews reach only the proxy (RDS IAM tokens are signed locally, no API call);
 * schema-lambda and the secret rotation function reach the cluster and Secrets Manager, the latter
 * through an interface endpoint. A NAT would add cost (per AZ, per GB) and an exfiltration path for
 * nothing. A future function that calls another AWS API gets that service's interface endpoint.
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  /** Interface endpoint for Secrets Manager; consumers open its port to their own security group. */
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    Tags.of(this).add('bookstore:owner', 'database-team');

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr),
      maxAzs: NETWORK_AZ_COUNT,
      natGateways: 0,
      subnetConfiguration: [
        { name: SUBNETS.functions, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
        { name: SUBNETS.database, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
    });

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    const endpointSg = new ec2.SecurityGroup(this, 'SecretsManagerEndpointSg', {
      vpc: this.vpc,
      description: 'Secrets Manager endpoint: HTTPS from the migrator and the rotation function only',
      allowAllOutbound: false,
    });
    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets: { subnetGroupName: SUBNETS.functions },
      securityGroups: [endpointSg],
      privateDnsEnabled: true,
      open: false,
    });

    // For functions deployed from other repositories (lib/exports.ts imports them).
    const functionSubnets = this.vpc.selectSubnets({ subnetGroupName: SUBNETS.functions });
    const exported = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description, exportName: exportName(props.exportPrefix, name) });
    exported(EXPORTS.network.vpcId, this.vpc.vpcId, 'The bookstore VPC');
    exported(
      EXPORTS.network.availabilityZones,
      Fn.join(',', functionSubnets.subnets.map((s) => s.availabilityZone)),
      'AZs of the function subnets, in the same order',
    );
    exported(EXPORTS.network.functionSubnetIds, Fn.join(',', functionSubnets.subnetIds), 'Isolated subnets functions run in');

    // restrictDefaultSecurityGroup runs a CDK provider function whose log group Lambda creates without retention.
    const provider = this.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) throw new Error('the VpcRestrictDefaultSG provider moved: update NetworkStack');
    new logs.LogRetention(this, 'RestrictDefaultSgProviderLogRetention', {
      logGroupName: `/aws/lambda/${handler.ref}`,
      retention: logs.RetentionDays.ONE_MONTH,
    });
    acknowledgeLogRetention(this);
  }
}
