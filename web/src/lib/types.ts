// The documents of the REST API (docs/api.md, src/track/http/wire.cpp) as the page reads them.
import type { Json, JsonObject } from './fields';

export type RunState = 'running' | 'finished' | 'crashed' | 'failed';

export interface Run {
  id: string;
  entity: string;
  project: string;
  name: string;
  group: string;
  tags: string[];
  notes: string;
  state: RunState;
  config: JsonObject;
  summary: JsonObject;
  host: string;
  pid: number;
  git_commit: string;
  start_time: number | null;
  heartbeat_time: number | null;
  end_time: number | null;
  exit_code: number | null;
}

export interface Project {
  entity: string;
  project: string;
  visibility: 'public' | 'private';
  runs: number;
  last_start_time: number | null;
}

export interface Viewer {
  user: string | null;  // null: a visitor without a key
  admin: boolean;
  teams: Array<{ team: string; role: string }>;
}

export interface KeyInfo {
  key: string;
  count: number;
  first_step: number;
  last_step: number;
  last_value: Json;
  min: Json;
  max: Json;
}

export interface Series {
  key: string;
  steps: number[];
  values: Json[];
  wall_times: Json[];
  points_in_range: number;
  downsampled: boolean;
}

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
}

export interface Artifact {
  entity: string;
  project: string;
  name: string;
  type: string;
  version: number;
  aliases: string[];
  digest: string;
  created_time: number;
  producer_run: string | null;
  metadata: JsonObject;
  files: ArtifactFile[];
}

export interface DatasetInfo {
  name: string;
  description: string;
  available: boolean;
  num_classes: number;
  train_count: number;
  test_count: number;
  class_names: string[];
}

export interface DatasetStats {
  dataset: string;
  split: string;
  count: number;
  rows: number;
  cols: number;
  channels: number;
  num_classes: number;
  class_names: string[];
  label_counts: number[];
  pixel_mean: number;
  pixel_std: number;
  pixel_min: number;
  pixel_max: number;
  pixel_histogram: number[];
  class_mean_images: number[][];
}

export interface ClassMetrics {
  class: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  auroc: number;
  average_precision: number;
}

export interface Evaluation {
  artifact: { entity: string; project: string; name: string; version: number | string; path: string };
  dataset: string | null;
  split: string;
  class_names: string[];
  count: number;
  accuracy: number;
  confusion: number[][];
  per_class: ClassMetrics[];
  macro: Partial<Omit<ClassMetrics, 'class' | 'name'>>;
  roc: Array<{ class: number; fpr: number[]; tpr: number[] }>;
  pr: Array<{ class: number; recall: number[]; precision: number[] }>;
  misclassified: Array<{ index: number; label: number; predicted: number; confidence: number }>;
}
