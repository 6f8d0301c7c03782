import assert from 'node:assert/strict';
import { llamacppMetricsLoad, llamacppSlotsLoad, ollamaLoad, sumMetrics, vllmLoad } from '../../../src/proxy/load.js';

describe('published load parsers', () => {
  it('vLLM /metrics: sums the label sets of every engine; reads the older gpu_cache_usage_perc name', () => {
    const text = [
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 3.0',
      'vllm:num_requests_running{engine="1",model_name="Qwen/Qwen2.5-7B-Instruct"} 2.0',
      'vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 7.0',
      'vllm:num_requests_waiting_by_reason{reason="capacity"} 9.0',
      'vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 0.0798685',
      '',
    ].join('\n');
    assert.deepEqual(vllmLoad(text), { running: 5, waiting: 7, kvCacheUsage: 0.0798685 });
    const v0 = 'vllm:num_requests_running{model_name="m"} 1.0\nvllm:num_requests_waiting{model_name="m"} 0.0\nvllm:gpu_cache_usage_perc{model_name="m"} 0.5\n';
    assert.deepEqual(vllmLoad(v0), { running: 1, waiting: 0, kvCacheUsage: 0.5 });
    assert.equal(vllmLoad('# nothing here\nother_metric 1\n'), undefined);
  });

  it('ignores negative, non-numeric and unterminated samples', () => {
    const m = sumMetrics('a{x="1"} -3\na NaN\na{x="2" 4\na 2 1700000000000\n', ['a']);
    assert.deepEqual([...m], [['a', 2]]);
  });

  it('llama.cpp /metrics (no labels) and /slots', () => {
    assert.deepEqual(llamacppMetricsLoad('llamacpp:requests_processing 1\nllamacpp:requests_deferred 3\n'), { running: 1, waiting: 3 });
    const slots = [{ id: 0, n_ctx: 16384, speculative: false, is_processing: true, id_task: 5 }, { id: 1, n_ctx: 16384, speculative: false, is_processing: false }];
    assert.deepEqual(llamacppSlotsLoad(slots), { running: 1, capacity: 2 });
    assert.equal(llamacppSlotsLoad({ error: { code: 501 } }), undefined);
  });

  it('Ollama /api/ps: the resident models', () => {
    assert.deepEqual(ollamaLoad({ models: [{ name: 'llama3.2:latest', size_vram: 1 }] }), { loadedModels: ['llama3.2:latest'] });
    assert.deepEqual(ollamaLoad({ models: [] }), { loadedModels: [] });
    assert.equal(ollamaLoad(null), undefined);
  });
});
