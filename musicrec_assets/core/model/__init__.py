"""The model stages, one module per asset (op names in brackets), as the Dagster assets call them.

model_selection                      selection.select_models
generator_models                     generators.stages.fit_generator_models
candidates                           candidates.build_candidates (topn: per-chunk top-N union)
user_profiles, item_features         features.build_content_features   [op content_features]
rerank_dataset                       rerank_dataset.build_rerank_dataset
reranker, reranker_validation        reranker.fit_reranker (gate, blend)  [op reranker]
reranked_topk                        serve.reranked_topk
the page's new listener              cold_start.recommend_new_listener

Stages follow ``evaluation.protocol``: val fits on train, test on train+val, serve on everything;
test labels are read only by ``evaluation.evaluate``.
"""
