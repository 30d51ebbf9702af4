// Oracle workload: node fs (sync and fs.promises on the libuv threadpool),
// fs.rmSync recursive, child_process.execSync and a loopback connect.
'use strict';
const fs = require('fs');
const cp = require('child_process');
const net = require('net');

fs.mkdirSync('n/a/b', { recursive: true });
fs.writeFileSync('n/a/f.txt', 'hello');
fs.renameSync('n/a/f.txt', 'n/a/g.txt');
fs.readFileSync('n/a/g.txt');
fs.symlinkSync('g.txt', 'n/a/s');
fs.linkSync('n/a/g.txt', 'n/a/h');
fs.unlinkSync('n/a/h');
fs.appendFileSync('n/a/g.txt', 'more');
try {
	fs.unlinkSync('n/missing');
} catch (e) {}

async function main() {
	await fs.promises.writeFile('n/p.txt', 'p');
	await fs.promises.rename('n/p.txt', 'n/q.txt');
	await fs.promises.readFile('n/q.txt');
	await fs.promises.mkdir('n/pd/x', { recursive: true });
	await fs.promises.rmdir('n/pd/x');
	await fs.promises.unlink('n/q.txt');
	await fs.promises.copyFile('n/a/g.txt', 'n/copy.txt');
	await fs.promises.rm('n/pd', { recursive: true });
	cp.execSync('echo hi >n/sh.txt && cat n/sh.txt >/dev/null');
	fs.rmSync('n', { recursive: true, force: true });
	await new Promise((resolve, reject) => {
		const srv = net.createServer((s) => s.end());
		srv.listen(0, '127.0.0.1', () => {
			const c = net.connect(srv.address().port, '127.0.0.1');
			c.on('error', reject);
			c.on('close', () => srv.close(resolve));
			c.resume();
		});
	});
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
