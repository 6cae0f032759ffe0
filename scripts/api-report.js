/**
 * The public API report. `node scripts/api-report.js` fails when the `.d.ts` of an entry point no
 * longer matches its committed report `etc/<entry>.api.md` (types a signature reaches without the
 * entry point exporting them are listed in the report as warnings);
 * `--update` rewrites the reports to match (review the diff, then commit it). Reads `dist/`, so
 * build first.
 */
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { fileURLToPath } from 'node:url';
import { packageEntries } from './package-entries.js';

const update = process.argv.includes('--update');
const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = `${root}api-extractor.json`;
const base = ExtractorConfig.loadFile(configFile);

let failed = 0;
for (const entry of packageEntries()) {
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      mainEntryPointFilePath: `<projectFolder>/${entry.types}`,
      // Only what the entry point reaches: the surface a user compiles against.
      compiler: { overrideTsconfig: { ...base.compiler.overrideTsconfig, files: [entry.types] } },
      apiReport: { ...base.apiReport, reportFileName: `${entry.name}.api.md` },
    },
    configObjectFullPath: configFile,
    packageJsonFullPath: `${root}package.json`,
  });
  const result = Extractor.invoke(config, {
    localBuild: update,
    printApiReportDiff: !update,
    messageCallback: (message) => {
      // Which TypeScript version reads the .d.ts is not news on every run.
      if (message.messageId === 'console-preamble') message.handled = true;
    },
  });
  if (!result.succeeded) {
    failed++;
    if (result.apiReportChanged && !update) {
      console.error(
        `The public API of ${entry.specifier} changed: run \`npm run api:update\`, review and commit etc/${entry.name}.api.md.`,
      );
    }
  }
}
process.exitCode = failed === 0 ? 0 : 1;
