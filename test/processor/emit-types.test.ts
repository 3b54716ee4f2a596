import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/*
 * Per-output emit types (`defineProcessor<In, Outputs<{ accepted: A; review: R }>>`)
 * are types only, so the proof is the compiler's: fixtures/emit-types.ts
 * compiles cleanly as written, and with its `@ts-expect-error` directives
 * removed it has exactly the errors they name (code and line), no other.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('fixtures/emit-types.ts', import.meta.url));
const DIRECTIVE = /\/\/ @ts-expect-error (TS\d+) .*$/;

function compilerOptions(): ts.CompilerOptions {
  const configPath = `${ROOT}tsconfig.json`;
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath).options;
}

/** The fixture's diagnostics (as `line TScode`, 1-based lines) when its text is `text`. */
function diagnostics(text: string, options: ts.CompilerOptions, oldProgram?: ts.Program): { found: string[]; program: ts.Program } {
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === FIXTURE ? ts.createSourceFile(name, text, language, true) : getSourceFile(name, language, ...rest);
  const program = ts.createProgram({ rootNames: [FIXTURE], options, host, oldProgram });
  const file = program.getSourceFile(FIXTURE);
  assert.ok(file, 'the fixture is part of the program');
  const found = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map((d) =>
    `${file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  return { found, program };
}

test('Outputs<{...}> types ctx.emit per output: a wrong value, an undeclared output or a return without `default` is a compile error', { timeout: 60_000 }, () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const lines = text.split('\n');
  const expected: string[] = [];
  const stripped = lines.map((line, i) => {
    const match = DIRECTIVE.exec(line);
    if (match === null) return line;
    expected.push(`${i + 2} ${match[1]}`);
    return line.replace(DIRECTIVE, '//');
  });
  assert.ok(expected.length >= 8, `the fixture has its @ts-expect-error cases (${expected.length})`);

  const options = compilerOptions();
  const asWritten = diagnostics(text, options);
  assert.deepEqual(asWritten.found, [], 'the fixture compiles as written: every directive is met and the valid uses type-check');

  const { found } = diagnostics(stripped.join('\n'), options, asWritten.program);
  assert.deepEqual(found.map((d) => d.slice(0, d.indexOf(':'))).sort(), [...expected].sort(),
    `without the directives, exactly the named errors on the lines below them:\n${found.join('\n')}`);
});
