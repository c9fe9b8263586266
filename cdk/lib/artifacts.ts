/**
 * Where the Lambda code comes from.
 *
 * The Rust side builds `provided.al2023` x86_64 zips at `target/lambda/<name>/bootstrap.zip`
 * (`bash scripts/build-lambdas.sh` at the repo root); the Aurora MySQL variant (`bookstore:engine=mysql`)
 * takes the MySQL build of the same functions, at `target/lambda-mysql/<name>/bootstrap.zip`
 * (`bash scripts/build-lambdas.sh --mysql`). A real `cdk synth`/`cdk deploy` refuses to run without them.
 * Tests and CI's synth instead pass a placeholder directory (context `bookstore:placeholderArtifactDir` or env
 * `BOOKSTORE_PLACEHOLDER_ARTIFACT_DIR`) holding a tiny `bootstrap` that exits non-zero, so a template built
 * from it can never migrate or serve by accident.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Node } from 'constructs';
import { type DatabaseEngine, readEngine } from './config';

/** The three deployables, named as their folders under `target/lambda/`. */
export type ArtifactName = 'schema-lambda' | 'books' | 'reviews';
export const ARTIFACT_NAMES: readonly ArtifactName[] = ['schema-lambda', 'books', 'reviews'];

/** The command that builds the (PostgreSQL) artifacts, quoted in every error. */
export const BUILD_COMMAND = 'bash scripts/build-lambdas.sh';

/** Per engine: the command that builds its artifacts, and where (under the repo root) they land. */
export const ENGINE_ARTIFACTS: Readonly<Record<DatabaseEngine, { readonly buildCommand: string; readonly dir: string }>> = {
  postgres: { buildCommand: BUILD_COMMAND, dir: path.join('target', 'lambda') },
  mysql: { buildCommand: `${BUILD_COMMAND} --mysql`, dir: path.join('target', 'lambda-mysql') },
};

/** The repository root (this file is `cdk/lib/artifacts.ts`). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Code for each function, plus whether it is the placeholder. */
export interface LambdaArtifacts {
  readonly placeholder: boolean;
  /** A new `Code` each call (an asset cannot be shared between stacks). */
  code(name: ArtifactName): lambda.Code;
}

/** Thrown when real artifacts are missing; the message names every missing file and the build command. */
export class MissingArtifactsError extends Error {
  constructor(
    readonly missing: string[],
    readonly buildCommand: string = BUILD_COMMAND,
  ) {
    super(
      `Lambda artifacts not built: ${missing.join(', ')} ` +
        `(run \`${buildCommand}\` from the repository root first; ` +
        'tests pass a placeholder via context bookstore:placeholderArtifactDir instead)',
    );
    this.name = 'MissingArtifactsError';
  }
}

/**
 * Resolves the artifacts from context/env; throws `MissingArtifactsError` if real ones are absent. The default
 * directory and the command the error quotes follow `bookstore:engine`.
 */
export function resolveArtifacts(node: Node): LambdaArtifacts {
  const placeholderDir =
    node.tryGetContext('bookstore:placeholderArtifactDir') ?? process.env.BOOKSTORE_PLACEHOLDER_ARTIFACT_DIR;
  if (placeholderDir) {
    const dir = path.resolve(String(placeholderDir));
    if (!fs.existsSync(path.join(dir, 'bootstrap'))) {
      throw new Error(`placeholder artifact directory ${dir} has no 'bootstrap' file`);
    }
    // A fresh Code per function: an asset belongs to one stack.
    return { placeholder: true, code: () => lambda.Code.fromAsset(dir) };
  }

  const root = artifactDir(node);
  const files = new Map(ARTIFACT_NAMES.map((name) => [name, path.join(root, name, 'bootstrap.zip')]));
  const missing = [...files.values()].filter((f) => !fs.existsSync(f) || fs.statSync(f).size === 0);
  if (missing.length > 0) {
    throw new MissingArtifactsError(missing.map(displayPath), ENGINE_ARTIFACTS[readEngine(node)].buildCommand);
  }
  return { placeholder: false, code: (name) => lambda.Code.fromAsset(files.get(name)!) };
}

/**
 * Where the real artifacts are looked for: `bookstore:lambdaArtifactDir` (or env `BOOKSTORE_LAMBDA_ARTIFACT_DIR`)
 * when set, otherwise the engine's build output under the repo root.
 */
export function artifactDir(node: Node): string {
  const configured = node.tryGetContext('bookstore:lambdaArtifactDir') ?? process.env.BOOKSTORE_LAMBDA_ARTIFACT_DIR;
  return configured ? path.resolve(String(configured)) : path.join(REPO_ROOT, ENGINE_ARTIFACTS[readEngine(node)].dir);
}

/** A path as the build command's user sees it: relative to the repo root when inside it. */
function displayPath(file: string): string {
  const relative = path.relative(REPO_ROOT, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/**
 * Writes a placeholder artifact directory (for tests and CI's synth): a `bootstrap` shell script that
 * logs why it cannot run and exits 1. Returns the directory.
 */
export function writePlaceholderArtifacts(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'bootstrap'),
    '#!/bin/sh\n' +
      '# PLACEHOLDER written by cdk tests/CI: not a real Lambda. Never deploy it.\n' +
      `echo "placeholder artifact: build the real ones with '${BUILD_COMMAND}'" >&2\n` +
      'exit 1\n',
    { mode: 0o755 },
  );
  return dir;
}
