#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw figures into a Markdown table and an SVG chart.

usage: scripts/bench/report.py DIR EXCHANGES ABOUT

Reads DIR/busy.tsv and DIR/idle.tsv, writes DIR/bench.md and DIR/bench.svg. EXCHANGES is the
number of exchanges per connection; ABOUT is one line about the machine, put under the
tables. The chart is written by hand, as SVG text: no plotting library to install. For each
server and connection count it shows the median of the runs, and the table gives the range.
The server's CPU time per exchange is the total over the runs divided by all their exchanges;
it is left out ("-") below 0.1 s in total, as the kernel counts CPU time in 10 ms ticks.
"""
import csv
import math
import statistics
import sys

ORDER = ['02_tcp_server', '19_poll_server', '20_async_server', 'notes_server.py']
LABEL = {
    '02_tcp_server': '02 (a thread per client)',
    '19_poll_server': '19 (one thread, mio)',
    '20_async_server': '20 (tokio tasks)',
    'notes_server.py': 'notes (Python threads)',
}
COLOR = {
    '02_tcp_server': '#d62728',
    '19_poll_server': '#1f77b4',
    '20_async_server': '#2ca02c',
    'notes_server.py': '#9467bd',
}


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter='\t'))


def busy_summary(rows):
    """{(server, connections): {'rate': [...], 'p50': [...], ...}} over the runs."""
    runs = {}
    for row in rows:
        key = (row['server'], int(row['connections']))
        entry = runs.setdefault(key, {k: [] for k in ('rate', 'p50', 'p90', 'p99', 'errors',
                                                      'cpu_s', 'exchanges')})
        for k in entry:
            entry[k].append(float(row[k]))
    return runs


def table(runs, idle_rows, about):
    counts = sorted({c for _, c in runs})
    servers = [s for s in ORDER if any(k[0] == s for k in runs)]
    lines = ['| server | connections | exchanges/s, median (range) | p50 ms | p90 ms | p99 ms '
             '| server CPU per exchange | errors |', '|---|---|---|---|---|---|---|---|']
    for c in counts:
        for s in servers:
            e = runs.get((s, c))
            if not e:
                continue
            med = {k: statistics.median(v) for k, v in e.items()}
            cpu = sum(e['cpu_s'])
            cpu = f"{cpu * 1e6 / sum(e['exchanges']):.1f} µs" if cpu >= 0.1 else '-'
            lines.append(f"| {s} | {c} | {med['rate']:,.0f} ({min(e['rate']):,.0f}-{max(e['rate']):,.0f}) "
                         f"| {med['p50']:.2f} | {med['p90']:.2f} | {med['p99']:.2f} "
                         f"| {cpu} | {sum(e['errors']):.0f} |")
    top = max(counts)
    rate = {s: statistics.median(runs[(s, top)]['rate']) for s in servers if (s, top) in runs}
    ratios = []
    for a, b in [('19_poll_server', '02_tcp_server'), ('19_poll_server', 'notes_server.py'),
                 ('20_async_server', '02_tcp_server')]:
        if a in rate and b in rate and rate[b] > 0:
            ratios.append(f'{a} / {b}: {rate[a] / rate[b]:.2f}x')
    lines += ['', f'Exchanges per second at {top} connections, medians: ' + '; '.join(ratios) + '.']
    if idle_rows:
        lines += ['', '| server | idle connections held | new client round trip p50 ms | p90 ms | p99 ms '
                  '| server peak memory | errors |', '|---|---|---|---|---|---|---|']
        for row in sorted(idle_rows, key=lambda r: ORDER.index(r['server'])):
            lines.append(f"| {row['server']} | {int(row['idle']):,} | {float(row['p50']):.2f} "
                         f"| {float(row['p90']):.2f} | {float(row['p99']):.2f} "
                         f"| {int(row['peak_rss_kb']) / 1024:.1f} MB | {row['errors']} |")
    lines += ['', f'Measured on {about}.', '']
    return '\n'.join(lines)


def nice_step(top):
    """A round step (1, 2 or 5 times a power of ten) giving about five grid lines up to top."""
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5):
        if m * power >= raw:
            return m * power
    return 10 * power


def panel(x0, title, unit, counts, series, fmt):
    """One chart: x is the connection count (evenly spaced), y from 0 to a round maximum."""
    w, h, left, top_pad, bottom = 400, 260, 60, 40, 45
    top = max((v for vals in series.values() for v in vals), default=1) or 1
    step = nice_step(top)
    ymax = step * (int(top / step) + 1)
    px = lambda i: x0 + left + (i + 0.5) * (w - left) / len(counts)
    py = lambda v: top_pad + (h - top_pad - bottom) * (1 - v / ymax)
    out = [f'<text x="{x0 + left + (w - left) / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>']
    v = 0.0
    while v <= ymax + step / 2:
        y = py(v)
        out.append(f'<line x1="{x0 + left}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
        v += step
    for i, c in enumerate(counts):
        out.append(f'<text x="{px(i):.1f}" y="{h - bottom + 18}" text-anchor="middle">{c}</text>')
    out.append(f'<text x="{x0 + left + (w - left) / 2}" y="{h - 8}" text-anchor="middle">connections</text>')
    out.append(f'<text x="{x0 + 14}" y="{(h - bottom + top_pad) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {x0 + 14} {(h - bottom + top_pad) / 2})">{unit}</text>')
    for s, vals in series.items():
        points = ' '.join(f'{px(i):.1f},{py(val):.1f}' for i, val in enumerate(vals))
        out.append(f'<polyline points="{points}" fill="none" stroke="{COLOR[s]}" stroke-width="2"/>')
        for i, val in enumerate(vals):
            out.append(f'<circle cx="{px(i):.1f}" cy="{py(val):.1f}" r="3" fill="{COLOR[s]}"/>')
    return out


def chart(runs, exchanges):
    counts = sorted({c for _, c in runs})
    servers = [s for s in ORDER if any(k[0] == s for k in runs)]
    med = lambda s, c, k: statistics.median(runs[(s, c)][k]) if (s, c) in runs else 0
    rate = {s: [med(s, c, 'rate') for c in counts] for s in servers}
    p99 = {s: [med(s, c, 'p99') for c in counts] for s in servers}
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="860" height="330" '
             'font-family="sans-serif" font-size="12">',
             '<rect width="860" height="330" fill="white"/>']
    parts += panel(0, f'exchanges per second ({exchanges} per connection)', 'exchanges/s',
                   counts, rate, lambda v: f'{v / 1000:.0f}k' if v else '0')
    parts += panel(440, 'p99 latency of an exchange', 'ms', counts, p99,
                   lambda v: f'{v:g}')
    for i, s in enumerate(servers):
        x = 70 + i * 200
        parts.append(f'<line x1="{x}" y1="300" x2="{x + 20}" y2="300" stroke="{COLOR[s]}" stroke-width="3"/>')
        parts.append(f'<text x="{x + 26}" y="304">{LABEL[s]}</text>')
    parts.append('</svg>')
    return '\n'.join(parts) + '\n'


def main():
    out, exchanges, about = sys.argv[1], sys.argv[2], sys.argv[3]
    busy = read(f'{out}/busy.tsv')
    try:
        idle = read(f'{out}/idle.tsv')
    except FileNotFoundError:
        idle = []
    runs = busy_summary(busy)
    with open(f'{out}/bench.md', 'w') as f:
        f.write(table(runs, idle, about))
    with open(f'{out}/bench.svg', 'w') as f:
        f.write(chart(runs, exchanges))
    print(table(runs, idle, about))


if __name__ == '__main__':
    main()
