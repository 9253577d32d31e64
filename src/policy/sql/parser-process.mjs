// The SQL classifier in a child process (see parser-pool.ts): the WebAssembly parser's memory and time are this
// process's, so a statement that exhausts them ends this process, not the gateway or its parser.
import { register } from 'tsx/esm/api';

register();
const { initSqlParser, classifySql } = await import('./classify.ts');
await initSqlParser();
const rssLimit = Number(process.env.AIRLOCK_PARSER_RSS_MB ?? 1024) * 1024 * 1024;
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  process.send({ result: classifySql(m.text) }, () => {
    // WebAssembly memory never shrinks: past the limit, leave; the pool starts a fresh process.
    if (process.memoryUsage().rss > rssLimit) process.exit(0);
  });
});
process.send({ ready: true });
