// node: its own sync fs calls and a child_process tree.
const fs = require('fs');
const cp = require('child_process');
const T = process.argv[2];
process.chdir(T);
fs.writeFileSync('n1', 'x');
fs.renameSync('n1', 'n2');
fs.unlinkSync('n2');
cp.execFileSync('/bin/sh', ['-c', 'echo y > c1 && rm c1']);
const exp = [
  {kind: 'open', path: `${T}/n1`, 'flags~': 'O_CREAT'},
  {kind: 'rename', path: `${T}/n1`, path2: `${T}/n2`, result: 0},
  {kind: 'unlink', path: `${T}/n2`, result: 0},
  {kind: 'unlink', path: `${T}/c1`, result: 0, argv0: 'rm'},
];
for (const e of exp) console.log(JSON.stringify(e));
