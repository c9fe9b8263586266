import { findExport, type Synthesised, synthBookstore } from './helpers';

let s: Synthesised;
beforeAll(() => {
  s = synthBookstore();
});

const stackNames = () => [s.stacks.network.stackName, s.stacks.database.stackName, s.stacks.app.stackName];
const templateOf = (stackName: string) => s.assembly.getStackByName(stackName).template;

/** `{Fn::GetAtt: [sg, GroupId]}`, locally or through Fn::ImportValue, as the group's short construct path. */
function groupName(stackName: string, value: any): string {
  const imported = value['Fn::ImportValue'];
  if (imported) {
    const producer = findExport(s.assembly, imported);
    return groupName(producer.stackName, producer.value);
  }
  const id = value['Fn::GetAtt']?.[1] === 'GroupId' ? value['Fn::GetAtt'][0] : undefined;
  if (!id) throw new Error(`not a security group reference: ${JSON.stringify(value)}`);
  const path: string = templateOf(stackName).Resources[id].Metadata['aws:cdk:path'];
  return path.replace(/\/Resource$/, '');
}

/** A port: a literal, or the cluster's `Endpoint.Port`, which is its `Port` property. */
function port(stackName: string, value: any): number {
  const att = value['Fn::GetAtt'];
  if (att && att[1] === 'Endpoint.Port') return templateOf(stackName).Resources[att[0]].Properties.Port;
  return value;
}

type Rule = string; // "from -> to tcp/port"

/** Every security group rule of every stack, inline or standalone, rendered as "from -> to proto/port". */
function allRules(): { ingress: Rule[]; egress: Rule[]; cidrs: string[] } {
  const ingress: Rule[] = [];
  const egress: Rule[] = [];
  const cidrs: string[] = [];
  for (const stack of stackNames()) {
    for (const [id, r] of Object.entries<any>(templateOf(stack).Resources)) {
      const p = r.Properties;
      if (r.Type === 'AWS::EC2::SecurityGroup') {
        const self = groupName(stack, { 'Fn::GetAtt': [id, 'GroupId'] });
        for (const rule of p.SecurityGroupIngress ?? []) cidrs.push(`${self} ingress ${rule.CidrIp ?? rule.CidrIpv6}`);
        for (const rule of p.SecurityGroupEgress ?? []) {
          // CDK's marker for "no egress at all" when allowAllOutbound is false.
          if (rule.CidrIp === '255.255.255.255/32' && rule.IpProtocol === 'icmp') continue;
          cidrs.push(`${self} egress ${rule.CidrIp ?? rule.CidrIpv6}`);
        }
      } else if (r.Type === 'AWS::EC2::SecurityGroupIngress') {
        if (p.CidrIp || p.CidrIpv6) cidrs.push(`ingress ${p.CidrIp ?? p.CidrIpv6}`);
        const to = groupName(stack, p.GroupId);
        const from = groupName(stack, p.SourceSecurityGroupId);
        expect(port(stack, p.FromPort)).toBe(port(stack, p.ToPort));
        ingress.push(`${from} -> ${to} ${p.IpProtocol}/${port(stack, p.FromPort)}`);
      } else if (r.Type === 'AWS::EC2::SecurityGroupEgress') {
        if (p.CidrIp || p.CidrIpv6) cidrs.push(`egress ${p.CidrIp ?? p.CidrIpv6}`);
        const from = groupName(stack, p.GroupId);
        const to = groupName(stack, p.DestinationSecurityGroupId);
        expect(port(stack, p.FromPort)).toBe(port(stack, p.ToPort));
        egress.push(`${from} -> ${to} ${p.IpProtocol}/${port(stack, p.FromPort)}`);
      }
    }
  }
  return { ingress: ingress.sort(), egress: egress.sort(), cidrs };
}

const FN = 'Bookstore-Database/ProxyClientSg';
const PROXY = 'Bookstore-Database/ProxySg';
const CLUSTER = 'Bookstore-Database/ClusterSg';
const SCHEMA = 'Bookstore-Database/SchemaFunctionSg';
const ROTATION = 'Bookstore-Database/RotationSg';
const ENDPOINT = 'Bookstore-Network/SecretsManagerEndpointSg';

describe('security groups', () => {
  test('let in only function -> proxy -> cluster, the migrator and the rotation function to the cluster, and both to Secrets Manager', () => {
    expect(allRules().ingress).toEqual(
      [
        `${FN} -> ${PROXY} tcp/5432`,
        `${PROXY} -> ${CLUSTER} tcp/5432`,
        `${SCHEMA} -> ${CLUSTER} tcp/5432`,
        `${ROTATION} -> ${CLUSTER} tcp/5432`,
        `${SCHEMA} -> ${ENDPOINT} tcp/443`,
        `${ROTATION} -> ${ENDPOINT} tcp/443`,
      ].sort(),
    );
  });

  test('let out only the same paths (the functions reach the proxy and nothing else)', () => {
    expect(allRules().egress).toEqual(
      [
        `${FN} -> ${PROXY} tcp/5432`,
        `${PROXY} -> ${CLUSTER} tcp/5432`,
        `${SCHEMA} -> ${CLUSTER} tcp/5432`,
        `${ROTATION} -> ${CLUSTER} tcp/5432`,
        `${SCHEMA} -> ${ENDPOINT} tcp/443`,
        `${ROTATION} -> ${ENDPOINT} tcp/443`,
      ].sort(),
    );
  });

  test('never open to an address range', () => {
    expect(allRules().cidrs).toEqual([]);
  });

  test("the VPC's default security group is emptied", () => {
    s.network.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });
});

describe('VPC', () => {
  test('has no path to the internet: no gateway, no NAT, no route at all beyond the local one', () => {
    for (const type of ['AWS::EC2::InternetGateway', 'AWS::EC2::NatGateway', 'AWS::EC2::EgressOnlyInternetGateway', 'AWS::EC2::Route']) {
      s.network.resourceCountIs(type, 0);
    }
  });

  test('has two isolated Functions subnets and two isolated Database subnets, in two AZs', () => {
    const subnets = Object.values<any>(s.network.findResources('AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(4);
    const tag = (subnet: any, key: string) => subnet.Properties.Tags.find((t: any) => t.Key === key)?.Value;
    expect(subnets.map((sn) => `${tag(sn, 'aws-cdk:subnet-name')}/${tag(sn, 'aws-cdk:subnet-type')}`).sort()).toEqual([
      'Database/Isolated',
      'Database/Isolated',
      'Functions/Isolated',
      'Functions/Isolated',
    ]);
    for (const subnet of subnets) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    const azs = subnets.map((sn) => JSON.stringify(sn.Properties.AvailabilityZone));
    expect(new Set(azs).size).toBe(2);
  });

  test('reaches Secrets Manager through a private-DNS interface endpoint in the Functions subnets', () => {
    const [endpoint] = Object.values<any>(s.network.findResources('AWS::EC2::VPCEndpoint'));
    expect(endpoint.Properties).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
    expect(JSON.stringify(endpoint.Properties.ServiceName)).toContain('.secretsmanager');
    const subnetPaths = endpoint.Properties.SubnetIds.map(
      (ref: any) => s.network.toJSON().Resources[ref.Ref].Metadata['aws:cdk:path'],
    );
    expect(subnetPaths.sort()).toEqual(['Bookstore-Network/Vpc/FunctionsSubnet1/Subnet', 'Bookstore-Network/Vpc/FunctionsSubnet2/Subnet']);
  });

  test('logs its flows', () => {
    s.network.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
  });

  test('places Aurora and the proxy in the Database subnets', () => {
    const databaseSubnets = (refs: any[]) =>
      refs.map((ref) => {
        const v = ref['Fn::ImportValue'] ? findExport(s.assembly, ref['Fn::ImportValue']).value : ref;
        return s.network.toJSON().Resources[v.Ref].Metadata['aws:cdk:path'];
      });
    const expected = ['Bookstore-Network/Vpc/DatabaseSubnet1/Subnet', 'Bookstore-Network/Vpc/DatabaseSubnet2/Subnet'];
    const [subnetGroup] = Object.values<any>(s.database.findResources('AWS::RDS::DBSubnetGroup'));
    expect(databaseSubnets(subnetGroup.Properties.SubnetIds).sort()).toEqual(expected);
    const [proxy] = Object.values<any>(s.database.findResources('AWS::RDS::DBProxy'));
    expect(databaseSubnets(proxy.Properties.VpcSubnetIds).sort()).toEqual(expected);
  });
});

describe('IAM', () => {
  /** Every statement with `Resource: "*"` in any stack, as "stack/path: actions". */
  const wildcardStatements = () => {
    const found: string[] = [];
    for (const stack of stackNames()) {
      for (const [, r] of Object.entries<any>(templateOf(stack).Resources)) {
        const docs =
          r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
            ? [r.Properties.PolicyDocument]
            : r.Type === 'AWS::IAM::Role'
              ? (r.Properties.Policies ?? []).map((p: any) => p.PolicyDocument)
              : r.Type === 'AWS::KMS::Key'
                ? [r.Properties.KeyPolicy]
                : [];
        for (const doc of docs) {
          for (const st of doc.Statement) {
            const resources = [st.Resource].flat();
            if (resources.includes('*')) {
              found.push(`${r.Metadata['aws:cdk:path']}: ${[st.Action].flat().join(',')}`);
            }
          }
        }
      }
    }
    return found.sort();
  };

  test('grants "*" only where a service offers nothing narrower (each acknowledged with a reason in lib/)', () => {
    const eni =
      'ec2:AssignPrivateIpAddresses,ec2:CreateNetworkInterface,ec2:DeleteNetworkInterface,' +
      'ec2:DescribeNetworkInterfaces,ec2:DescribeSubnets,ec2:UnassignPrivateIpAddresses';
    // Active tracing: X-Ray has no resource-level permissions.
    const xray = 'xray:PutTelemetryRecords,xray:PutTraceSegments';
    // aws-cdk-lib's LogRetention singleton (fixed id), for log groups AWS services create themselves.
    const logRetention = 'LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/ServiceRole/DefaultPolicy/Resource: ' +
      'logs:DeleteRetentionPolicy,logs:PutRetentionPolicy';
    // The alarm topic's key policy: key policies always name "*" (the key itself).
    const keyPolicy = 'Bookstore-Database/AlarmTopicKey/Resource';
    expect(wildcardStatements()).toEqual(
      [
        `Bookstore-App/BooksFunction/Fn/Role/Resource: ${eni}`,
        `Bookstore-App/BooksFunction/Fn/Role/DefaultPolicy/Resource: ${xray}`,
        `Bookstore-App/ReviewsFunction/Fn/Role/Resource: ${eni}`,
        `Bookstore-App/ReviewsFunction/Fn/Role/DefaultPolicy/Resource: ${xray}`,
        `Bookstore-Database/SchemaFunction/Role/Resource: ${eni}`,
        `Bookstore-Database/SchemaFunction/Role/DefaultPolicy/Resource: ${xray}`,
        `Bookstore-App/${logRetention}`,
        `Bookstore-Network/${logRetention}`,
        `Bookstore-Database/${logRetention}`,
        `${keyPolicy}: kms:*`,
        `${keyPolicy}: kms:Decrypt,kms:GenerateDataKey*`,
        `${keyPolicy}: kms:Decrypt,kms:GenerateDataKey*`,
      ].sort(),
    );
  });
});
