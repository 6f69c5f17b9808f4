# study_tables.py: the tables of docs/EXPERIMENTS.md (the 6x6 study) from a sweep directory:
# runs/<configuration>/seed-<s>/{metrics.jsonl, eval/scaling.json, eval/aas.json, eval-own/scaling.json}.
# Usage: cd <dir holding runs/> && python3 tools/study_tables.py > analysis.md   (plain python3, no packages)
import json, glob, statistics as st, os
V = ['baseline', 'random-init', 'mixed-init', 'rand-n', 'rand-T', 'rand-nsup', 'cgar']
def ms(xs, pct=True, digits=1):
    xs = [x for x in xs if x is not None]
    if not xs: return '-'
    f = 100 if pct else 1
    m = st.mean(xs) * f; s = st.stdev(xs) * f if len(xs) > 1 else 0
    return f'{m:.{digits}f} ± {s:.{digits}f}' + ('' if len(xs) == 3 else f' (n={len(xs)})')
def load(v, sub, name):
    out = []
    for d in sorted(glob.glob(f'runs/{v}/seed-*')):
        f = f'{d}/{sub}/{name}.json'
        if os.path.exists(f): out.append(json.load(open(f)))
    return out
def cell(rows, agg, k, n):
    for r in rows:
        if r['aggregator'] == agg and r['k'] == k and r['nsup'] == n: return r['exact_acc']
print('## (a) own init, one chain: exact % by test-time N_sup (trained with N_sup 4)\n')
N = [1, 2, 4, 8, 16, 32, 64]
print('| variant | ' + ' | '.join(f'N={n}' for n in N) + ' |'); print('|---|' + '---|' * len(N))
for v in V:
    docs = load(v, 'eval-own', 'scaling')
    if docs: print(f'| {v} | ' + ' | '.join(ms([cell(d['rows'], 'single', 1, n) for d in docs]) for n in N) + ' |')
print('\n## (b) random init (scale 1), N_sup 16: exact % by aggregator and k\n')
A = ['single', 'cell-vote', 'puzzle-vote', 'confidence', 'vote-confidence', 'oracle']
for v in V:
    docs = load(v, 'eval', 'scaling')
    if not docs: continue
    own = load(v, 'eval-own', 'scaling')
    print(f'\n**{v}** (own init, one chain, N 16: {ms([cell(d["rows"], "single", 1, 16) for d in own])})\n')
    print('| aggregator | k=1 | k=2 | k=4 | k=8 |'); print('|---|---|---|---|---|')
    for a in A:
        print(f'| {a} | ' + ' | '.join(ms([cell(d['rows'], a, k, 16) if a != 'single' or k == 1 else None for d in docs]) if (a != 'single' or k == 1) else '' for k in [1, 2, 4, 8]) + ' |')
print('\n## (c) training variants: accuracy, compute, path independence\n')
print('| variant | held-out exact % (own init, N 4) | own init N 16 | net calls / step | steps/s | AAS y | AAS z | cells agreeing % | pass-1 exact % (random init, N 16) |')
print('|---|---|---|---|---|---|---|---|---|')
for v in V:
    ex, net, sps = [], [], []
    for d in sorted(glob.glob(f'runs/{v}/seed-*')):
        lines = [json.loads(l) for l in open(f'{d}/metrics.jsonl') if l.strip()]
        ev = [l for l in lines if l['type'] == 'eval']; tr = [l for l in lines if l['type'] == 'train']
        if not ev or ev[-1]['step'] != 1500: continue
        ex.append(ev[-1]['exact_acc'])
        net.append(sum(t['net_calls'] for t in tr) / len(tr))
        sps.append(len(tr) * 10 / sum(t['step_time'] * 10 for t in tr))
    aas = load(v, 'eval', 'aas'); own = load(v, 'eval-own', 'scaling')
    if not ex: continue
    print(f'| {v} | {ms(ex)} | {ms([cell(d["rows"], "single", 1, 16) for d in own])} | {ms(net, False)} | {ms(sps, False)} | '
          + ' | '.join(ms([a[k] for a in aas], False, 3) if k != 'pred_match' else ms([a[k] for a in aas]) for k in ['aas_y', 'aas_z', 'pred_match'])
          + f' | {ms([a["exact_acc"] for a in aas])} |')
