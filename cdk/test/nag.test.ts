import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { buildBookstore } from '../lib/bookstore';
import { type Synthesised, synthBookstore, testApp } from './helpers';

let s: Synthesised;
beforeAll(() => {
  // cdk-nag's AwsSolutions pack runs inside synth; an unacknowledged finding throws here.
  s = synthBookstore();
});

/**
 * Every cdk-nag acknowledgement in the app: construct path, rule id, reason. (aws-cdk-lib makes a few
 * `CloudFormation-Validate::` acknowledgements of its own inside ec2.Vpc; those are not ours.)
 */
function acknowledgements() {
  return s.app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id, reason }))
      .filter((ack) => !ack.id.startsWith('CloudFormation-Validate::')),
  );
}

test('the whole app passes cdk-nag AwsSolutions (synth succeeded, no violation reported)', () => {
  expect(s.assembly.stacks.map((st) => st.stackName).sort()).toEqual(['Bookstore-App', 'Bookstore-Database', 'Bookstore-Network']);
});

test('every acknowledgement says why, in a sentence', () => {
  const acks = acknowledgements();
  expect(acks.length).toBeGreaterThan(0);
  const tooShort = acks.filter((ack) => typeof ack.reason !== 'string' || ack.reason.trim().length < 60);
  expect(tooShort).toEqual([]);
});

test('acknowledges exactly the reviewed findings, each on the narrowest construct', () => {
  const acks = acknowledgements().map((a) => `${a.path} ${a.id}`).sort();
  expect(acks).toEqual(
    [
      'Bookstore-App/Api AwsSolutions::AwsSolutions-APIG3',
      'Bookstore-App/Api AwsSolutions::AwsSolutions-APIG4',
      'Bookstore-App/Api AwsSolutions::AwsSolutions-COG4',
      'Bookstore-App/Api AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'Bookstore-App/BooksFunction/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      'Bookstore-App/ReviewsFunction/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      'Bookstore-Database/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Bookstore-Database/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      'Bookstore-Database/SchemaFunction/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    ].sort(),
  );
});

test('is really enforced: an unacknowledged finding fails synth', () => {
  const app = testApp();
  const bookstore = buildBookstore(app);
  const open = new ec2.SecurityGroup(bookstore.app, 'OpenToTheWorld', { vpc: bookstore.network.vpc });
  open.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(5432));
  expect(() => app.synth()).toThrow(/AwsSolutions-EC23/);
});
