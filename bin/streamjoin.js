#!/usr/bin/env node
// The `streamjoin` CLI. Runs the TypeScript sources directly (Node >= 22.18 / 24 strips types);
// `npx streamjoin` and npm scripts use the Node 24 binary pinned in devDependencies.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `streamjoin needs Node.js >= 22.18 (this is ${process.version}). Run it through npm (\`npm run streamjoin -- …\` or \`npx streamjoin …\`), which uses the Node 24 pinned in devDependencies.`,
  );
  process.exit(1);
}
await import('../cli/main.ts');
