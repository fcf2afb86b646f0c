"""Student-style answers for the attention assignment: correct alternatives and realistic bugs.

Shared by tests/test_attention.py (scored in-process) and tests/test_attention_examples.py (the
sample submissions in examples/attention/, graded through the real command line).
"""

ATTENTION_EINSUM = '''
def scaled_dot_product_attention(query, key, value, mask=None):
    d = query.shape[-1]
    scores = torch.einsum("...td,...sd->...ts", query, key) / d ** 0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, float("-inf"))) if mask.dtype == torch.bool else scores + mask
    weights = scores.softmax(dim=-1)
    return torch.einsum("...ts,...sv->...tv", weights, value), weights
'''

CROSS_ATTENTION_BY_HAND = '''
def cross_attention_images(targets, sources):
    scores = targets @ sources.T / math.sqrt(targets.shape[1])
    weights = torch.exp(scores - scores.max(dim=1, keepdim=True).values)
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights @ sources, weights
'''

# Both homework sets allow any dot-product variant: the unscaled scores keep full marks too.
CROSS_ATTENTION_UNSCALED = '''
def cross_attention_images(targets, sources):
    weights = torch.softmax(torch.einsum("td,sd->ts", targets, sources), dim=-1)
    return torch.einsum("ts,sd->td", weights, sources), weights
'''

SELF_ATTENTION_EINSUM = '''
def self_attention(X, W_Q, W_K, W_V):
    scores = torch.einsum("nd,de,fe,mf->nm", X, W_Q, W_K, X)
    return torch.einsum("nm,md,dv->nv", scores.softmax(dim=1), X, W_V)
'''

ENCODER_BMM = '''
class MyAttention(nn.Module):
    def __init__(self, d_model, nhead):
        super().__init__()
        self.h, self.d = nhead, d_model
        self.in_proj_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(3 * d_model, d_model)))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, additive_mask):
        N, T, D = x.shape
        qkv = x @ self.in_proj_weight.T + self.in_proj_bias
        q, k, v = (t.reshape(N, T, self.h, D // self.h).permute(0, 2, 1, 3).reshape(N * self.h, T, D // self.h)
                   for t in qkv.split(D, dim=-1))
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(D // self.h)
        if additive_mask is not None:
            scores = scores + additive_mask
        out = torch.bmm(torch.softmax(scores, dim=-1), v)
        out = out.reshape(N, self.h, T, D // self.h).permute(0, 2, 1, 3).reshape(N, T, D)
        return self.out_proj(out)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", norm_first=False):
        super().__init__()
        self.self_attn = MyAttention(d_model, nhead)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.norm_first, self.nhead = norm_first, nhead

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        N, T, _ = src.shape
        mask = torch.zeros(N * self.nhead, T, T)
        if src_mask is not None:
            mask = mask + (torch.zeros(T, T).masked_fill(src_mask, float("-inf")) if src_mask.dtype == torch.bool else src_mask)
        if src_key_padding_mask is not None:
            pad = torch.zeros(N, 1, T).masked_fill(src_key_padding_mask[:, None, :], float("-inf"))
            mask = mask + pad.repeat_interleave(self.nhead, dim=0)
        sa = lambda x: self.dropout1(self.self_attn(x, mask))
        ff = lambda x: self.dropout2(self.linear2(self.dropout(self.act(self.linear1(x)))))
        if self.norm_first:
            src = src + sa(self.norm1(src))
            return src + ff(self.norm2(src))
        src = self.norm1(src + sa(src))
        return self.norm2(src + ff(src))
'''

EMBEDDINGS_ZEROS = '''
def load_pretrained_embeddings(path, vocab):
    vectors = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            word, *numbers = line.split()
            if number == 0 and len(numbers) == 1:  # a "count dim" header
                continue
            vectors[word] = [float(x) for x in numbers]
    dim = len(next(iter(vectors.values())))
    return torch.stack([torch.tensor(vectors[w]) if w in vectors else torch.zeros(dim) for w in vocab])
'''

SEQ2SEQ_TEMPLATE = '''
class Seq2SeqTransformer(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=128, nhead=4, num_encoder_layers=2,
                 num_decoder_layers=2, dim_feedforward=256, dropout=0.1, src_embeddings=None, tgt_embeddings=None):
        super().__init__()
        self.src_tok = nn.Embedding(src_vocab_size, d_model)
        self.tgt_tok = nn.Embedding(tgt_vocab_size, d_model)
        self.pos = nn.Embedding(256, d_model)  # learned positions
        self.model = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                    dropout, batch_first=True)
        self.out = nn.Linear(d_model, tgt_vocab_size)

    def forward(self, src, tgt):
        s = self.src_tok(src) + self.pos(torch.arange(src.shape[1]))
        t = self.tgt_tok(tgt) + self.pos(torch.arange(tgt.shape[1]))
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        pad = src == 0
        return self.out(CALL)
'''
SEQ2SEQ_CALL = "self.model(s, t, tgt_mask=mask, src_key_padding_mask=pad, memory_key_padding_mask=pad)"
SEQ2SEQ_ALTERNATIVE = SEQ2SEQ_TEMPLATE.replace("CALL", SEQ2SEQ_CALL)

BEAM_RECURSIVE = '''
def beam_search(step_fn, bos, eos, beam_size, max_len):
    def search(beams, completed, steps_left):
        if steps_left == 0 or not beams:
            return max(completed or beams, key=lambda h: h[1])
        candidates = sorted(((tokens + [t], score + float(lp)) for tokens, score in beams
                             for t, lp in enumerate(step_fn(tokens).tolist())), key=lambda h: -h[1])[:beam_size]
        completed = completed + [h for h in candidates if h[0][-1] == eos]
        beams = [h for h in candidates if h[0][-1] != eos]
        if completed and (not beams or max(h[1] for h in completed) >= beams[0][1]):
            return max(completed, key=lambda h: h[1])
        return search(beams, completed, steps_left - 1)
    return search([([bos], 0.0)], [], max_len)
'''

BEAM_TEMPLATE = '''
def beam_search(step_fn, bos, eos, beam_size, max_len):
    beams, done = [([bos], 0.0)], []
    for _ in range(max_len):
        candidates = []
        for tokens, score in beams:
            for t, lp in enumerate(step_fn(tokens).tolist()):
                candidates.append((tokens + [t], SCORE))
        candidates.sort(key=lambda h: h[1], reverse=True)
        candidates = candidates[:beam_size]
        done += [h for h in candidates if h[0][-1] == eos]
        beams = [h for h in candidates if h[0][-1] != eos]
        if STOP:
            break
    return max(done, key=lambda h: h[1]) if done else beams[0]
'''
BEAM_STOP = "done and (not beams or max(h[1] for h in done) >= beams[0][1])"
BEAM_ITERATIVE = BEAM_TEMPLATE.replace("SCORE", "score + lp").replace("STOP", BEAM_STOP)

ATTENTION_ADDITIVE = '''
def scaled_dot_product_attention(query, key, value, mask=None):
    scores = torch.matmul(query, key.transpose(-1, -2)) * query.size(-1) ** -0.5
    if mask is not None:
        if mask.dtype == torch.bool:  # turned into the equivalent additive mask
            mask = torch.zeros(mask.shape, dtype=scores.dtype).masked_fill(~mask, float("-inf"))
        scores = scores + mask
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, value), weights
'''

SELF_ATTENTION_ROW_BY_ROW = '''
def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    return torch.stack([torch.softmax(K @ q, dim=0) @ V for q in Q])
'''

ENCODER_HEAD_LOOP = ENCODER_BMM.replace('''        qkv = x @ self.in_proj_weight.T + self.in_proj_bias
        q, k, v = (t.reshape(N, T, self.h, D // self.h).permute(0, 2, 1, 3).reshape(N * self.h, T, D // self.h)
                   for t in qkv.split(D, dim=-1))
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(D // self.h)
        if additive_mask is not None:
            scores = scores + additive_mask
        out = torch.bmm(torch.softmax(scores, dim=-1), v)
        out = out.reshape(N, self.h, T, D // self.h).permute(0, 2, 1, 3).reshape(N, T, D)
        return self.out_proj(out)''', '''        dh = D // self.h
        q, k, v = (x @ self.in_proj_weight.T + self.in_proj_bias).split(D, dim=-1)
        heads = []
        for i in range(self.h):  # one head at a time; the mask rows of head i are n * h + i
            cols = slice(i * dh, (i + 1) * dh)
            scores = q[..., cols] @ k[..., cols].transpose(1, 2) / math.sqrt(dh)
            if additive_mask is not None:
                scores = scores + additive_mask.view(N, self.h, T, T)[:, i]
            heads.append(torch.softmax(scores, dim=-1) @ v[..., cols])
        return self.out_proj(torch.cat(heads, dim=-1))''')
assert ENCODER_HEAD_LOOP != ENCODER_BMM

EMBEDDINGS_RANDOM_ROWS = '''
def load_pretrained_embeddings(path, vocab):
    lines = open(path, encoding="utf-8").read().splitlines()
    if lines and len(lines[0].split()) == 2:  # "count dim"
        lines = lines[1:]
    vectors = {}
    for line in lines:
        word, *numbers = line.rstrip().split(" ")
        vectors.setdefault(word, torch.tensor([float(v) for v in numbers]))
    known = torch.stack(list(vectors.values()))
    table = torch.randn(len(vocab), known.shape[1]) * known.std()
    for row, word in enumerate(vocab):
        if word in vectors:
            table[row] = vectors[word]
    return table.float()
'''

# torch's bool convention for the causal mask (True = blocked) instead of the float -inf mask.
SEQ2SEQ_BOOL_MASK = SEQ2SEQ_TEMPLATE.replace(
    "mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])",
    "mask = torch.ones(tgt.shape[1], tgt.shape[1], dtype=torch.bool).triu(1)").replace("CALL", SEQ2SEQ_CALL)

ALTERNATIVES = {
    "scaled_dot_product_attention": {"einsum, torch.where for bool masks": ATTENTION_EINSUM,
                                     "matmul, a bool mask turned additive": ATTENTION_ADDITIVE},
    "cross_attention_images": {"a stable softmax by hand": CROSS_ATTENTION_BY_HAND,
                               "unscaled dot product (HW5-2022 allows any variant)": CROSS_ATTENTION_UNSCALED},
    "self_attention": {"einsum": SELF_ATTENTION_EINSUM, "row by row": SELF_ATTENTION_ROW_BY_ROW},
    "TransformerEncoderLayer": {"bmm over N * heads": ENCODER_BMM, "a loop over the heads": ENCODER_HEAD_LOOP},
    "load_pretrained_embeddings": {"zeros for missing words": EMBEDDINGS_ZEROS,
                                   "random rows of the vectors' scale": EMBEDDINGS_RANDOM_ROWS},
    "Seq2SeqTransformer": {"nn.Transformer, learned positions, float causal mask": SEQ2SEQ_ALTERNATIVE,
                           "bool causal mask (True = blocked)": SEQ2SEQ_BOOL_MASK},
    "beam_search": {"recursive": BEAM_RECURSIVE, "iterative, stops when no open beam can win": BEAM_ITERATIVE},
}

# Subclasses of the master's layer, each with one realistic mistake.
ENCODER_BUGS = {
    "missing 1/sqrt(d)": ENCODER_BMM.replace(" / math.sqrt(D // self.h)", ""),
    "softmax over the wrong axis": ENCODER_BMM.replace("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"),
    "inverted padding mask": ENCODER_BMM.replace("masked_fill(src_key_padding_mask[:, None, :]", "masked_fill(~src_key_padding_mask[:, None, :]"),
    "norm_first ignored": ENCODER_BMM.replace("if self.norm_first:", "if False:"),
    "dropout active in eval": ENCODER_BMM.replace("self.dropout(self.act(", "F.dropout(self.act(").replace(
        "self.linear1(x)))))", "self.linear1(x)), 0.1)))"),
    "heads split without transposing": ENCODER_BMM.replace(
        "t.reshape(N, T, self.h, D // self.h).permute(0, 2, 1, 3).reshape", "t.reshape"),
    "gelu ignored": ENCODER_BMM.replace('nn.GELU() if activation == "gelu" else nn.ReLU()', "nn.ReLU()"),
}

BUGS = {
    "scaled_dot_product_attention": {
        "missing 1/sqrt(d)": ATTENTION_EINSUM.replace(" / d ** 0.5", ""),
        "softmax over the wrong axis": ATTENTION_EINSUM.replace("scores.softmax(dim=-1)", "scores.softmax(dim=-2)"),
        "inverted mask": ATTENTION_EINSUM.replace("torch.where(mask, scores, torch.full_like", "torch.where(~mask, scores, torch.full_like"),
        "calls F.scaled_dot_product_attention": ATTENTION_EINSUM.replace(
            'return torch.einsum("...ts,...sv->...tv", weights, value), weights',
            "return F.scaled_dot_product_attention(query, key, value, attn_mask=mask), weights"),
    },
    "cross_attention_images": {
        "sources attend to targets": CROSS_ATTENTION_BY_HAND.replace("targets @ sources.T", "sources @ targets.T"),
        "softmax over the wrong axis": CROSS_ATTENTION_BY_HAND.replace("dim=1", "dim=0"),
        "scores divided by 784": CROSS_ATTENTION_BY_HAND.replace("math.sqrt(targets.shape[1])", "targets.shape[1]"),
        "values are the targets": CROSS_ATTENTION_BY_HAND.replace("return weights @ sources", "return weights @ targets"),
        "a single target squeezed away": CROSS_ATTENTION_BY_HAND.replace("return weights @ sources, weights",
                                                                        "return (weights @ sources).squeeze(0), weights.squeeze(0)"),
        "outputs from unscaled weights, scaled weights returned": CROSS_ATTENTION_BY_HAND.replace(
            "return weights @ sources, weights", "return torch.softmax(targets @ sources.T, dim=1) @ sources, weights"),
    },
    "self_attention": {
        "scaled by 1/sqrt(d_k)": "def self_attention(X, W_Q, W_K, W_V):\n    Q, K = X @ W_Q, X @ W_K\n"
                                 "    return torch.softmax(Q @ K.T / K.shape[1] ** 0.5, dim=-1) @ X @ W_V",
        "softmax over the wrong axis": SELF_ATTENTION_EINSUM.replace("softmax(dim=1)", "softmax(dim=0)"),
        "causal mask": "def self_attention(X, W_Q, W_K, W_V):\n    S = X @ W_Q @ W_K.T @ X.T\n"
                       "    S = S.masked_fill(torch.ones_like(S, dtype=torch.bool).triu(1), float('-inf'))\n"
                       "    return torch.softmax(S, dim=-1) @ X @ W_V",
    },
    "TransformerEncoderLayer": ENCODER_BUGS,
    "load_pretrained_embeddings": {
        "rows in the file's order": '''
def load_pretrained_embeddings(path, vocab):
    rows = [[float(x) for x in line.split()[1:]] for line in open(path, encoding="utf-8")]
    table = torch.zeros(len(vocab), len(rows[0]))
    for i, row in enumerate(rows[:len(vocab)]):
        table[i] = torch.tensor(row)
    return table''',
        "dimension fixed at 100": EMBEDDINGS_ZEROS.replace("dim = len(next(iter(vectors.values())))", "dim = 100"),
        "missing rows left as NaN": EMBEDDINGS_ZEROS.replace("torch.zeros(dim)", "torch.full((dim,), float('nan'))"),
        "a 'count dim' header read as the first vector": EMBEDDINGS_ZEROS.replace(
            "            if number == 0 and len(numbers) == 1:  # a \"count dim\" header\n                continue\n", ""),
    },
    "Seq2SeqTransformer": {
        "no causal mask": SEQ2SEQ_TEMPLATE.replace("CALL", SEQ2SEQ_CALL.replace("tgt_mask=mask", "tgt_mask=None")),
        "causal mask transposed": SEQ2SEQ_TEMPLATE.replace("CALL", SEQ2SEQ_CALL.replace("tgt_mask=mask", "tgt_mask=mask.T")),
        "memory padding not masked": SEQ2SEQ_TEMPLATE.replace("CALL", SEQ2SEQ_CALL.replace(", memory_key_padding_mask=pad", "")),
        "source padding not masked": SEQ2SEQ_TEMPLATE.replace("CALL", "self.model(s, t, tgt_mask=mask)"),
        "ignores the source": SEQ2SEQ_TEMPLATE.replace("CALL", "self.model.decoder(t, torch.zeros_like(s), tgt_mask=mask)"),
    },
    "beam_search": {
        "stops at the first completed hypothesis": BEAM_TEMPLATE.replace("SCORE", "score + lp").replace("STOP", "done"),
        "never stops early": BEAM_TEMPLATE.replace("SCORE", "score + lp").replace("STOP", "not beams"),
        "scores only the last token": BEAM_TEMPLATE.replace("SCORE", "lp").replace("STOP", BEAM_STOP),
        "stops when beating the worst open beam": BEAM_TEMPLATE.replace("SCORE", "score + lp").replace(
            "STOP", "done and (not beams or max(h[1] for h in done) >= beams[-1][1])"),
    },
}
