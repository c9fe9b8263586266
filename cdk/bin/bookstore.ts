#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { MissingArtifactsError } from '../lib/artifacts';
import { buildBookstore } from '../lib/bookstore';

const app = new App();
try {
  buildBookstore(app);
} catch (e) {
  if (e instanceof MissingArtifactsError) {
    // A plain message, not a stack trace: this is the one error a first-time deployer will meet.
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
app.synth();
