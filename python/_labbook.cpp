// labbook._labbook: the Python binding of the C++ SDK (include/labbook/run.hpp) and of the
// stores' read side (track/store.hpp), on pybind11. The pure-Python package around it
// (python/labbook/) adds W&B's conveniences; everything that records or reads runs is here, in
// C++, so Python and C++ programs write the same runs the same way.
//
// Errors are Python exceptions of one class per labbook ErrorCode, all subclasses of
// labbook.Error, carrying the message the CLI prints. Run.log is the hot path: it reads the dict
// with the CPython API (no conversion objects), and enqueues with the GIL released.
#include <Python.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status_macros.hpp"
#include "labbook/run.hpp"
#include "track/filter.hpp"
#include "track/http/wire.hpp"
#include "track/liveness.hpp"
#include "track/lookup.hpp"
#include "track/store.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace labbook::python {
namespace {

// ---- errors

struct ErrorClass {
  ErrorCode code;
  const char* name;
};

constexpr ErrorClass kErrorClasses[] = {
    {ErrorCode::kInvalidArgument, "InvalidArgument"},
    {ErrorCode::kNotFound, "NotFound"},
    {ErrorCode::kAlreadyExists, "AlreadyExists"},
    {ErrorCode::kPermissionDenied, "PermissionDenied"},
    {ErrorCode::kUnauthenticated, "Unauthenticated"},
    {ErrorCode::kFailedPrecondition, "FailedPrecondition"},
    {ErrorCode::kDataLoss, "DataLoss"},
    {ErrorCode::kResourceExhausted, "ResourceExhausted"},
    {ErrorCode::kUnavailable, "Unavailable"},
    {ErrorCode::kInternal, "Internal"},
    {ErrorCode::kUnimplemented, "Unimplemented"},
    {ErrorCode::kPayloadTooLarge, "PayloadTooLarge"},
    {ErrorCode::kMethodNotAllowed, "MethodNotAllowed"},
};

// The exception classes, made once at import; borrowed from the module, which keeps them.
PyObject* g_error = nullptr;
std::array<PyObject*, std::size(kErrorClasses)> g_error_classes{};

[[noreturn]] void Raise(const Status& status) {
  PyObject* type = g_error;
  for (size_t i = 0; i < std::size(kErrorClasses); ++i) {
    if (kErrorClasses[i].code == status.code()) type = g_error_classes[i];
  }
  py::object error = py::reinterpret_borrow<py::object>(type)(status.message());
  error.attr("code") = std::string(ErrorCodeName(status.code()));
  error.attr("message") = status.message();
  PyErr_SetObject(type, error.ptr());
  throw py::error_already_set();
}

void Check(const Status& status) {
  if (!status.ok()) Raise(status);
}

template <typename T>
T Take(Result<T> result) {
  if (!result.ok()) Raise(result.status());
  return std::move(*result);
}

// ---- JSON <-> Python

json ToJson(py::handle value, const std::string& where) {
  if (value.is_none()) return nullptr;
  if (PyBool_Check(value.ptr())) return value.ptr() == Py_True;
  if (PyLong_Check(value.ptr())) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow == 0) return static_cast<int64_t>(v);
    return PyLong_AsDouble(value.ptr());
  }
  if (PyFloat_Check(value.ptr())) return track::wire::NumberToJson(PyFloat_AS_DOUBLE(value.ptr()));
  if (PyUnicode_Check(value.ptr())) return value.cast<std::string>();
  if (PyDict_Check(value.ptr())) {
    json out = json::object();
    for (auto item : value.cast<py::dict>()) {
      if (!PyUnicode_Check(item.first.ptr())) {
        Raise(InvalidArgument(where + ": keys must be strings, got " +
                              std::string(py::str(py::type::of(item.first)).cast<std::string>())));
      }
      const std::string key = item.first.cast<std::string>();
      out[key] = ToJson(item.second, where + "." + key);
    }
    return out;
  }
  if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
    json out = json::array();
    size_t i = 0;
    for (auto item : value) out.push_back(ToJson(item, where + "[" + std::to_string(i++) + "]"));
    return out;
  }
  // numpy scalars and 0-d arrays, and anything else that is a number.
  if (py::hasattr(value, "item")) {
    py::object item = value.attr("item")();
    if (!item.equal(value) || !py::hasattr(item, "item")) return ToJson(item, where);
  }
  if (PyNumber_Check(value.ptr())) return track::wire::NumberToJson(value.cast<double>());
  Raise(InvalidArgument(where + ": expected a number, string, bool, None, list or dict, got " +
                        py::str(py::type::of(value)).cast<std::string>()));
}

py::object FromJson(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return py::none();
    case json::value_t::boolean:
      return py::bool_(value.get<bool>());
    case json::value_t::number_integer:
      return py::int_(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return py::int_(value.get<uint64_t>());
    case json::value_t::number_float:
      return py::float_(value.get<double>());
    case json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      // The stores' spelling of numbers JSON cannot hold.
      if (s == "NaN") return py::float_(std::nan(""));
      if (s == "Infinity") return py::float_(HUGE_VAL);
      if (s == "-Infinity") return py::float_(-HUGE_VAL);
      return py::str(s);
    }
    case json::value_t::array: {
      py::list out;
      for (const json& item : value) out.append(FromJson(item));
      return out;
    }
    case json::value_t::object: {
      py::dict out;
      for (const auto& [key, item] : value.items()) out[py::str(key)] = FromJson(item);
      return out;
    }
    default:
      return py::none();
  }
}

// A plain double from a value of Run.log: float, int, bool, a numpy scalar or 0-d array.
bool AsDouble(PyObject* value, double* out) {
  if (PyFloat_Check(value)) {
    *out = PyFloat_AS_DOUBLE(value);
    return true;
  }
  if (PyLong_Check(value)) {
    *out = PyLong_AsDouble(value);
    return !(*out == -1.0 && PyErr_Occurred());
  }
  PyObject* number = PyNumber_Float(value);
  if (number == nullptr) {
    PyErr_Clear();
    return false;
  }
  *out = PyFloat_AS_DOUBLE(number);
  Py_DECREF(number);
  return true;
}

py::dict ArtifactRefDict(const ArtifactRef& a) {
  py::dict out;
  out["name"] = a.name;
  out["type"] = a.type;
  out["version"] = a.version;
  out["digest"] = a.digest;
  out["files"] = a.files;
  out["ref"] = a.ToString();
  return out;
}

ArtifactRef ArtifactRefFrom(const py::dict& d) {
  ArtifactRef a;
  if (!d.contains("name") || !d.contains("version")) {
    Raise(InvalidArgument("artifact: expected a dict with name and version (what log_artifact, "
                          "use_artifact or Store.artifact return)"));
  }
  a.name = d["name"].cast<std::string>();
  a.version = d["version"].cast<int>();
  if (d.contains("type")) a.type = d["type"].cast<std::string>();
  if (d.contains("digest")) a.digest = d["digest"].cast<std::string>();
  return a;
}

// ---- Run

RunMode ParseMode(const std::string& mode) {
  if (mode == "online") return RunMode::kOnline;
  if (mode == "offline") return RunMode::kOffline;
  if (mode == "disabled") return RunMode::kDisabled;
  Raise(InvalidArgument("mode: expected online, offline or disabled, got '" + mode + "'"));
}

class PyRun {
 public:
  PyRun(const std::string& project, const std::string& name, const py::object& config,
        const std::vector<std::string>& tags, const std::string& group, const std::string& notes,
        const std::string& store, const std::string& entity, const std::string& mode,
        const std::string& id, bool system_metrics, bool handle_signals) {
    InitOptions options;
    options.project = project;
    options.name = name;
    options.config = config.is_none() ? json::object() : ToJson(config, "config");
    if (!options.config.is_object()) Raise(InvalidArgument("config: expected a dict"));
    options.tags = tags;
    options.group = group;
    options.notes = notes;
    options.store = store;
    options.entity = entity;
    options.mode = ParseMode(mode);
    options.id = id;
    options.system_metrics = system_metrics;
    options.handle_signals = handle_signals;
    config_ = options.config;
    Result<Run> started = [&] {
      py::gil_scoped_release release;
      return Init(std::move(options));
    }();
    run_ = std::make_unique<Run>(Take(std::move(started)));
    // Kept past finish(): the run itself lets go of its store (and connection) then.
    id_ = run_->id();
    name_ = run_->name();
    entity_ = run_->entity();
    project_ = run_->project();
    store_uri_ = run_->store_uri();
    mode_ = run_->mode();
  }

  Run& run() {
    if (!run_) Raise(FailedPrecondition("the run is finished"));
    return *run_;
  }
  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& entity() const { return entity_; }
  const std::string& project() const { return project_; }
  const std::string& store_uri() const { return store_uri_; }
  RunMode mode() const { return mode_; }

  // commit false logs at `step` (None: the counter's value) and leaves the counter as it is, so
  // that several calls can add keys to one step, as W&B's commit=False does.
  void Log(const py::dict& values, const py::object& step_object, bool commit) {
    int64_t step = next_step_;
    if (!step_object.is_none()) {
      // Python ints and numpy integers; True is an int to Python but not a step.
      if (PyBool_Check(step_object.ptr()) || !PyIndex_Check(step_object.ptr())) {
        Raise(InvalidArgument("step: expected an int or None, got " +
                              py::str(py::type::of(step_object)).cast<std::string>()));
      }
      int overflow = 0;
      py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(step_object.ptr()));
      if (!index) throw py::error_already_set();
      step = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
      if (overflow != 0 || step < 0) {
        Raise(InvalidArgument("step: expected 0 or more (at most 2^63 - 1), got " +
                              py::str(step_object).cast<std::string>()));
      }
    }
    // At most a few keys a call in practice: a fixed buffer, no allocation.
    constexpr size_t kInline = 16;
    std::array<std::pair<std::string_view, double>, kInline> inline_points;
    std::vector<std::pair<std::string_view, double>> many;
    size_t count = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    Py_ssize_t position = 0;
    while (PyDict_Next(values.ptr(), &position, &key, &value)) {
      if (!PyUnicode_Check(key)) {
        Raise(InvalidArgument("log: keys must be strings, got " +
                              py::str(py::type::of(py::handle(key))).cast<std::string>()));
      }
      Py_ssize_t size = 0;
      const char* text = PyUnicode_AsUTF8AndSize(key, &size);
      if (text == nullptr) throw py::error_already_set();
      double number = 0;
      if (!AsDouble(value, &number)) {
        Raise(InvalidArgument("log: '" + std::string(text, static_cast<size_t>(size)) +
                              "': expected a number, got " +
                              py::str(py::type::of(py::handle(value))).cast<std::string>()));
      }
      const std::pair<std::string_view, double> point{
          std::string_view(text, static_cast<size_t>(size)), number};
      if (count < kInline) {
        inline_points[count] = point;
      } else {
        if (many.empty()) many.assign(inline_points.begin(), inline_points.end());
        many.push_back(point);
      }
      ++count;
    }
    Run& target = run();
    {
      // The keys' UTF-8 stays valid: the dict holds the strings, and the GIL is back before it
      // could change.
      py::gil_scoped_release release;
      const auto* points = many.empty() ? inline_points.data() : many.data();
      target.Log(points, count, step);
    }
    if (commit) next_step_ = std::max(next_step_, step + 1);
  }

  void Finish(int exit_code) {
    if (!run_) return;
    Status finished;
    {
      py::gil_scoped_release release;
      finished = run_->Finish(exit_code);
    }
    stats_ = run_->stats();
    summary_ = run_->Summary();
    run_.reset();
    Check(finished);
  }

  py::dict Stats() const {
    const RecordingStats s = run_ ? run_->stats() : stats_;
    py::dict out;
    out["points_logged"] = s.points_logged;
    out["points_written"] = s.points_written;
    out["points_lost"] = s.points_lost;
    out["last_error"] = s.last_error;
    return out;
  }

  py::object Summary() const { return FromJson(run_ ? run_->Summary() : summary_); }
  const json& config() const { return config_; }
  int64_t next_step() const { return next_step_; }
  bool finished() const { return run_ == nullptr; }

 private:
  std::unique_ptr<Run> run_;
  std::string id_, name_, entity_, project_, store_uri_;
  RunMode mode_ = RunMode::kOnline;
  json config_;
  int64_t next_step_ = 0;
  RecordingStats stats_;
  json summary_ = json::object();
};

// ---- Store (the read side)

class PyStore {
 public:
  explicit PyStore(const std::string& uri) {
    uri_ = uri.empty() ? track::DefaultStoreUri() : uri;
    Result<std::unique_ptr<track::RunStore>> opened = [&] {
      py::gil_scoped_release release;
      return track::OpenExistingStore(uri_);
    }();
    store_ = Take(std::move(opened));
  }

  std::string uri() const { return store_->uri(); }

  py::list Runs(const std::string& entity, const std::string& project, const std::string& filter,
                const std::string& sort, int64_t limit) {
    std::optional<track::RunFilter> compiled;
    if (!filter.empty()) {
      Result<track::RunFilter> f = track::RunFilter::Compile(filter);
      if (!f.ok()) Raise(f.status().WithContext("filter"));
      compiled = std::move(*f);
    }
    std::optional<track::RunSortKey> key;
    if (!sort.empty()) {
      Result<track::RunSortKey> k = track::RunSortKey::Parse(sort);
      if (!k.ok()) Raise(k.status().WithContext("sort"));
      key = *k;
    }
    if (limit < 0) Raise(InvalidArgument("limit: expected 0 (no limit) or more"));
    std::vector<track::RunInfo> runs;
    {
      py::gil_scoped_release release;
      Result<std::vector<track::RunInfo>> listed = store_->ListRuns({entity, project});
      if (!listed.ok()) {
        py::gil_scoped_acquire acquire;
        Raise(listed.status());
      }
      runs = std::move(*listed);
      Reconcile(runs);
    }
    std::vector<track::RunInfo> shown;
    for (auto& run : runs) {
      if (!compiled || compiled->Matches(run)) shown.push_back(std::move(run));
    }
    if (key) track::SortRuns(shown, *key);
    if (limit > 0 && static_cast<int64_t>(shown.size()) > limit) shown.resize(limit);
    py::list out;
    for (const auto& run : shown) out.append(FromJson(track::wire::RunToJson(run)));
    return out;
  }

  py::object GetRun(const std::string& id) {
    std::vector<track::RunInfo> one;
    Status found;
    {
      py::gil_scoped_release release;
      Result<track::RunInfo> run = track::FindRun(*store_, id);
      found = run.status();
      if (run.ok()) {
        one.push_back(std::move(*run));
        Reconcile(one);
      }
    }
    Check(found);
    return FromJson(track::wire::RunToJson(one.front()));
  }

  py::list Keys(const std::string& run_id) {
    Result<std::vector<track::KeyInfo>> keys = [&] {
      py::gil_scoped_release release;
      return store_->HistoryKeys(run_id);
    }();
    py::list out;
    for (const auto& k : Take(std::move(keys))) out.append(FromJson(track::wire::KeyInfoToJson(k)));
    return out;
  }

  py::tuple History(const std::string& run_id, const std::string& key, int64_t samples,
                    std::optional<int64_t> min_step, std::optional<int64_t> max_step) {
    if (samples < 0) Raise(InvalidArgument("samples: expected 0 (every point) or more"));
    track::HistoryQuery query;
    query.max_points = static_cast<size_t>(samples);
    if (min_step) query.min_step = *min_step;
    if (max_step) query.max_step = *max_step;
    Result<track::Series> series = [&]() -> Result<track::Series> {
      py::gil_scoped_release release;
      Result<track::Series> read = store_->ReadHistory(run_id, key, query);
      if (read.ok() ? !read->steps.empty() : read.status().code() != ErrorCode::kNotFound) {
        return read;
      }
      // Nothing there: say whether the run or the key is unknown, as `labbook runs history`.
      LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, track::FindRun(*store_, run_id));
      LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> keys, store_->HistoryKeys(run.id));
      std::vector<std::string> names;
      for (const track::KeyInfo& k : keys) names.push_back(k.key);
      LABBOOK_RETURN_IF_ERROR(track::CheckHistoryKey(run.id, key, names));
      return read;
    }();
    track::Series s = Take(std::move(series));
    py::array_t<int64_t> steps(static_cast<py::ssize_t>(s.steps.size()));
    py::array_t<double> values(static_cast<py::ssize_t>(s.values.size()));
    py::array_t<double> walls(static_cast<py::ssize_t>(s.wall_times.size()));
    std::copy(s.steps.begin(), s.steps.end(), steps.mutable_data());
    std::copy(s.values.begin(), s.values.end(), values.mutable_data());
    std::copy(s.wall_times.begin(), s.wall_times.end(), walls.mutable_data());
    return py::make_tuple(steps, values, walls);
  }

  py::object Artifact(const std::string& entity, const std::string& project,
                      const std::string& name, const std::string& version) {
    Result<track::ArtifactVersion> artifact = [&] {
      py::gil_scoped_release release;
      return track::FindArtifact(*store_, entity, project, name, version);
    }();
    track::ArtifactVersion a = Take(std::move(artifact));
    py::dict out = FromJson(track::wire::ArtifactToJson(a)).cast<py::dict>();
    out["ref"] = a.name + ":" + a.VersionName();
    return out;
  }

  py::list Download(const py::dict& artifact, const std::string& directory) {
    Result<track::ArtifactVersion> parsed =
        track::wire::ArtifactFromJson(ToJson(artifact, "artifact"), "artifact");
    track::ArtifactVersion a = Take(std::move(parsed));
    const std::string reference = a.name + ":" + a.VersionName();
    py::list written;
    for (const track::ArtifactFile& file : a.files) {
      const std::filesystem::path target =
          Take(track::ArtifactFileDestination(directory, reference, file.path));
      Status read;
      {
        py::gil_scoped_release release;
        std::error_code error;
        std::filesystem::create_directories(target.parent_path(), error);
        read = store_->ReadArtifactFile(file, target);
      }
      Check(read.WithContext("artifact " + reference + " file " + file.path));
      written.append(target.string());
    }
    return written;
  }

 private:
  void Reconcile(std::vector<track::RunInfo>& runs) {
    // Runs whose process died read as crashed, as in `labbook runs`.
    const double now = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (!track::ReconcileRunStates(*store_, runs, now).ok()) {
      for (track::RunInfo& run : runs) {
        if (track::RunLooksDead(run, now)) run.state = track::RunState::kCrashed;
      }
    }
  }

  std::string uri_;
  std::unique_ptr<track::RunStore> store_;
};

}  // namespace
}  // namespace labbook::python

PYBIND11_MODULE(_labbook, m) {
  using namespace labbook::python;
  using labbook::ArtifactRef;
  m.doc() = "labbook's C++ core: runs (Run) and the stores' read side (Store). Use the labbook "
            "package, which wraps it.";

  g_error = PyErr_NewExceptionWithDoc(
      "labbook.Error", "A labbook error: .code (e.g. 'not_found') and .message, the CLI's text.",
      PyExc_Exception, nullptr);
  m.add_object("Error", py::handle(g_error));
  for (size_t i = 0; i < std::size(kErrorClasses); ++i) {
    const std::string qualified = std::string("labbook.") + kErrorClasses[i].name;
    g_error_classes[i] = PyErr_NewException(qualified.c_str(), g_error, nullptr);
    m.add_object(kErrorClasses[i].name, py::handle(g_error_classes[i]));
  }

  py::class_<PyRun>(m, "Run", py::dynamic_attr(),
                    "A run being recorded: labbook::Run of include/labbook/run.hpp.")
      .def(py::init<const std::string&, const std::string&, const py::object&,
                    const std::vector<std::string>&, const std::string&, const std::string&,
                    const std::string&, const std::string&, const std::string&,
                    const std::string&, bool, bool>(),
           py::kw_only(), py::arg("project") = "", py::arg("name") = "",
           py::arg("config") = py::none(), py::arg("tags") = std::vector<std::string>{},
           py::arg("group") = "", py::arg("notes") = "", py::arg("store") = "",
           py::arg("entity") = "", py::arg("mode") = "online", py::arg("id") = "",
           py::arg("system_metrics") = true, py::arg("handle_signals") = false,
           "Starts a run (labbook::Init). store '': LABBOOK_STORE, LABBOOK_BASE_URL, or "
           "sqlite://.labbook/labbook.db.")
      .def_property_readonly("id", [](const PyRun& r) { return r.id(); })
      .def_property_readonly("name", [](const PyRun& r) { return r.name(); })
      .def_property_readonly("entity", [](const PyRun& r) { return r.entity(); })
      .def_property_readonly("project", [](const PyRun& r) { return r.project(); })
      .def_property_readonly("store_uri", [](const PyRun& r) { return r.store_uri(); })
      .def_property_readonly("mode",
                             [](const PyRun& r) {
                               switch (r.mode()) {
                                 case labbook::RunMode::kOnline:
                                   return "online";
                                 case labbook::RunMode::kOffline:
                                   return "offline";
                                 default:
                                   return "disabled";
                               }
                             })
      .def_property_readonly("step", &PyRun::next_step,
                             "The step the next log() without a step uses.")
      .def_property_readonly("finished", &PyRun::finished)
      .def("log", &PyRun::Log, py::arg("values"), py::arg("step") = py::none(),
           py::arg("commit") = true,
           "Enqueues one point per key at `step` (None: the run's counter). commit True moves "
           "the counter past `step`; False leaves it. Values: numbers, numpy scalars, 0-d "
           "arrays.")
      .def("set_summary",
           [](PyRun& r, const std::string& key, const py::object& value) {
             r.run().SetSummary(key, ToJson(value, "summary." + key));
           },
           py::arg("key"), py::arg("value"))
      .def("summary", &PyRun::Summary, "The summary: last logged values and those set.")
      .def("config", [](const PyRun& r) { return FromJson(r.config()); })
      .def(
          "log_artifact",
          [](PyRun& r, const std::string& name, const std::string& type,
             const std::vector<std::pair<std::string, std::string>>& files,
             const py::object& metadata, const std::vector<std::string>& aliases) {
            std::vector<std::pair<std::string, std::filesystem::path>> paths;
            for (const auto& [inside, local] : files) paths.emplace_back(inside, local);
            const json meta = metadata.is_none() ? json::object() : ToJson(metadata, "metadata");
            labbook::Run& run = r.run();
            labbook::Result<ArtifactRef> logged = [&] {
              py::gil_scoped_release release;
              return run.LogArtifact(name, type, paths, meta, aliases);
            }();
            return ArtifactRefDict(Take(std::move(logged)));
          },
          py::arg("name"), py::arg("type"), py::arg("files"), py::arg("metadata") = py::none(),
          py::arg("aliases") = std::vector<std::string>{})
      .def(
          "log_table",
          [](PyRun& r, const std::string& name, const std::string& csv) {
            labbook::Run& run = r.run();
            labbook::Result<ArtifactRef> logged = [&] {
              py::gil_scoped_release release;
              return run.LogTable(name, csv);
            }();
            return ArtifactRefDict(Take(std::move(logged)));
          },
          py::arg("name"), py::arg("csv"))
      .def(
          "use_artifact",
          [](PyRun& r, const std::string& reference) {
            labbook::Run& run = r.run();
            labbook::Result<ArtifactRef> used = [&] {
              py::gil_scoped_release release;
              return run.UseArtifact(reference);
            }();
            return ArtifactRefDict(Take(std::move(used)));
          },
          py::arg("reference"))
      .def(
          "download_artifact",
          [](PyRun& r, const py::dict& artifact, const std::string& directory) {
            const ArtifactRef ref = ArtifactRefFrom(artifact);
            labbook::Run& run = r.run();
            labbook::Status done;
            {
              py::gil_scoped_release release;
              done = run.DownloadArtifact(ref, directory);
            }
            Check(done);
          },
          py::arg("artifact"), py::arg("directory"))
      .def("finish", &PyRun::Finish, py::arg("exit_code") = 0,
           "Flushes, writes the summary, ends the run (finished for 0, failed otherwise).")
      .def("stats", &PyRun::Stats);

  py::class_<PyStore>(m, "Store", "A run store, read: the runs, their history and artifacts.")
      .def(py::init<const std::string&>(), py::arg("uri") = "")
      .def_property_readonly("uri", &PyStore::uri)
      .def("runs", &PyStore::Runs, py::kw_only(), py::arg("entity") = "", py::arg("project") = "",
           py::arg("filter") = "", py::arg("sort") = "", py::arg("limit") = 0)
      .def("run", &PyStore::GetRun, py::arg("id"))
      .def("keys", &PyStore::Keys, py::arg("run_id"))
      .def("history", &PyStore::History, py::arg("run_id"), py::arg("key"),
           py::arg("samples") = 0, py::arg("min_step") = py::none(),
           py::arg("max_step") = py::none())
      .def("artifact", &PyStore::Artifact, py::arg("entity"), py::arg("project"),
           py::arg("name"), py::arg("version") = "latest")
      .def("download", &PyStore::Download, py::arg("artifact"), py::arg("directory"));

  m.def("default_store_uri", [] { return labbook::track::DefaultStoreUri(); });
}
