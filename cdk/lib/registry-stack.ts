import { Aws, CfnOutput, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as codeartifact from 'aws-cdk-lib/aws-codeartifact';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { BookstoreConfig } from './config';

/** The cargo repository the crates are published to. */
export const CRATES_REPOSITORY = 'crates';

export interface RegistryStackProps extends StackProps {
  readonly config: BookstoreConfig;
}

/**
 * A private Cargo registry for the crates the database team publishes (`bookstore-schema` and its
 * companions): an AWS CodeArtifact domain and a `crates` repository (sparse index, cargo >= 1.74).
 *
 * Only with `-c bookstore:codeArtifact=true`. It has no upstream: crates.io stays crates.io in the
 * consumers' `Cargo.toml`, so no public crate can shadow one of ours. Two managed policies say who may
 * do what in this account (attach them to CI and developer roles); `bookstore:codeArtifactReadAccounts`
 * lets app teams' accounts read through the domain and repository policies.
 */
export class RegistryStack extends Stack {
  readonly domain: codeartifact.CfnDomain;
  readonly repository: codeartifact.CfnRepository;
  readonly readPolicy: iam.ManagedPolicy;
  readonly publishPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    Tags.of(this).add('bookstore:owner', 'database-team');
    const { config } = props;
    const domainName = config.stackPrefix.toLowerCase();
    const readers = config.codeArtifactReadAccounts.map((account) => new iam.AccountPrincipal(account));

    const domainArn = this.formatArn({ service: 'codeartifact', resource: 'domain', resourceName: domainName });
    const repositoryArn = this.formatArn({
      service: 'codeartifact',
      resource: 'repository',
      resourceName: `${domainName}/${CRATES_REPOSITORY}`,
    });
    const packagesArn = this.formatArn({
      service: 'codeartifact',
      resource: 'package',
      resourceName: `${domainName}/${CRATES_REPOSITORY}/cargo//*`,
    });

    this.domain = new codeartifact.CfnDomain(this, 'Domain', {
      domainName,
      // Other accounts may only fetch a token for this domain; what they read is the repository's policy.
      permissionsPolicyDocument:
        readers.length > 0
          ? new iam.PolicyDocument({
              statements: [
                new iam.PolicyStatement({
                  sid: 'ReadAccountsGetToken',
                  principals: readers,
                  actions: ['codeartifact:GetAuthorizationToken'],
                  resources: ['*'],
                }),
              ],
            })
          : undefined,
    });
    this.repository = new codeartifact.CfnRepository(this, 'Repository', {
      domainName: this.domain.attrName,
      repositoryName: CRATES_REPOSITORY,
      description: 'Crates published by the bookstore database team (pin with =X.Y.Z)',
      permissionsPolicyDocument:
        readers.length > 0
          ? new iam.PolicyDocument({
              statements: [
                new iam.PolicyStatement({
                  sid: 'ReadAccountsRead',
                  principals: readers,
                  actions: [
                    'codeartifact:ReadFromRepository',
                    'codeartifact:GetRepositoryEndpoint',
                    'codeartifact:DescribePackageVersion',
                    'codeartifact:ListPackages',
                    'codeartifact:ListPackageVersions',
                  ],
                  resources: ['*'],
                }),
              ],
            })
          : undefined,
    });

    // sts:GetServiceBearerToken has no resource: the condition limits it to CodeArtifact tokens.
    const bearerToken = new iam.PolicyStatement({
      sid: 'CodeArtifactBearerToken',
      actions: ['sts:GetServiceBearerToken'],
      resources: ['*'],
      conditions: { StringEquals: { 'sts:AWSServiceName': 'codeartifact.amazonaws.com' } },
    });
    const token = new iam.PolicyStatement({
      sid: 'DomainToken',
      actions: ['codeartifact:GetAuthorizationToken'],
      resources: [domainArn],
    });
    const read = new iam.PolicyStatement({
      sid: 'ReadCrates',
      actions: ['codeartifact:ReadFromRepository', 'codeartifact:GetRepositoryEndpoint'],
      resources: [repositoryArn],
    });
    this.readPolicy = new iam.ManagedPolicy(this, 'ReadCratesPolicy', {
      description: `cargo build against the ${domainName}/${CRATES_REPOSITORY} CodeArtifact registry`,
      statements: [bearerToken, token, read],
    });
    this.publishPolicy = new iam.ManagedPolicy(this, 'PublishCratesPolicy', {
      description: `cargo publish to the ${domainName}/${CRATES_REPOSITORY} CodeArtifact registry`,
      statements: [
        bearerToken,
        token,
        read,
        new iam.PolicyStatement({
          sid: 'PublishCrates',
          actions: ['codeartifact:PublishPackageVersion', 'codeartifact:PutPackageMetadata'],
          resources: [packagesArn],
        }),
      ],
    });
    for (const policy of [this.readPolicy, this.publishPolicy]) {
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'sts:GetServiceBearerToken has no resource-level permissions; the statement is limited to ' +
          'CodeArtifact tokens by the sts:AWSServiceName condition.',
      });
    }
    Validations.of(this.publishPolicy).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codeartifact:<AWS::Region>:<AWS::AccountId>:package/${domainName}/${CRATES_REPOSITORY}/cargo//*]`,
      reason:
        'Publishing is granted for every crate of this one repository: the crates are released together by ' +
        'the database team, and a new companion crate must not need an IAM change first.',
    });

    new CfnOutput(this, 'CodeArtifactDomain', { value: this.domain.attrName });
    new CfnOutput(this, 'CodeArtifactRepository', { value: this.repository.attrName });
    new CfnOutput(this, 'CargoIndexUrl', {
      description: 'registries.<name>.index in .cargo/config.toml',
      value: `sparse+https://${domainName}-${Aws.ACCOUNT_ID}.d.codeartifact.${Aws.REGION}.amazonaws.com/cargo/${CRATES_REPOSITORY}/`,
    });
    new CfnOutput(this, 'ReadCratesPolicyArn', { value: this.readPolicy.managedPolicyArn });
    new CfnOutput(this, 'PublishCratesPolicyArn', { value: this.publishPolicy.managedPolicyArn });
  }
}
