import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds of a PostgreSQL server, found by its port: the postmaster, its live backends, and the
 * backends that ended (their time is added to the postmaster's children's time when it reaps them).
 */
export function postgresCpu(port: string): number {
  const stat = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const postmaster = pids.find((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /postgres$/.test(cmd[0]) && cmd.includes(port);
    } catch {
      return false;
    }
  });
  if (!postmaster) return NaN;
  const own = stat(postmaster);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const pid of pids) {
    try {
      const s = stat(pid);
      if (s[1] === postmaster) ticks += Number(s[11]) + Number(s[12]);
    } catch {
      // the backend ended between the listing and the read
    }
  }
  return ticks / 100;
}
