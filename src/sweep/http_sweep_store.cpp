#include "sweep/http_sweep_store.hpp"

#include "core/status_macros.hpp"
#include "track/http/http_store.hpp"
#include "track/http/wire.hpp"

namespace labbook::sweep {
namespace {

using nlohmann::json;
using track::http::HttpRunStore;
using track::wire::EncodeUrlComponent;

std::string SweepPath(const std::string& id) {
  return "/api/v1/sweeps/" + EncodeUrlComponent(id);
}
std::string TrialPath(const std::string& id, int64_t number) {
  return SweepPath(id) + "/trials/" + std::to_string(number);
}

Result<json> Field(const json& answer, const char* field, const std::string& route) {
  if (!answer.is_object() || !answer.contains(field)) {
    return DataLoss("the answer to " + route + " has no '" + field + "'");
  }
  return answer[field];
}

class HttpSweepStore final : public SweepStore {
 public:
  explicit HttpSweepStore(std::unique_ptr<HttpRunStore> http) : http_(std::move(http)) {}

  std::string uri() const override { return http_->uri(); }

  Result<SweepInfo> CreateSweep(const NewSweep& sweep) override {
    const json body = {{"entity", sweep.entity},       {"project", sweep.project},
                       {"spec", sweep.spec.ToJson()},  {"base_name", sweep.base_name},
                       {"base_config", sweep.base_config}};
    LABBOOK_ASSIGN_OR_RETURN(json answer, http_->CallJson("POST", "/api/v1/sweeps", &body));
    LABBOOK_ASSIGN_OR_RETURN(json info, Field(answer, "sweep", "POST /api/v1/sweeps"));
    return SweepFromJson(info, "sweep");
  }

  Result<SweepInfo> GetSweep(const std::string& sweep_id) override {
    LABBOOK_ASSIGN_OR_RETURN(json answer, http_->CallJson("GET", SweepPath(sweep_id), nullptr));
    LABBOOK_ASSIGN_OR_RETURN(json info, Field(answer, "sweep", "GET /api/v1/sweeps/{id}"));
    return SweepFromJson(info, "sweep");
  }

  Result<std::vector<SweepInfo>> ListSweeps(const std::string& entity,
                                           const std::string& project) override {
    const std::string path = "/api/v1/sweeps?entity=" + EncodeUrlComponent(entity) +
                             "&project=" + EncodeUrlComponent(project);
    LABBOOK_ASSIGN_OR_RETURN(json answer, http_->CallJson("GET", path, nullptr));
    LABBOOK_ASSIGN_OR_RETURN(json list, Field(answer, "sweeps", "GET /api/v1/sweeps"));
    std::vector<SweepInfo> out;
    for (size_t i = 0; i < list.size(); ++i) {
      LABBOOK_ASSIGN_OR_RETURN(SweepInfo info,
                               SweepFromJson(list[i], "sweeps[" + std::to_string(i) + "]"));
      out.push_back(std::move(info));
    }
    return out;
  }

  Status SetSweepState(const std::string& sweep_id, SweepState state) override {
    const json body = {{"state", std::string(SweepStateName(state))}};
    return http_->CallJson("PATCH", SweepPath(sweep_id), &body).status();
  }

  Result<Claim> ClaimTrial(const std::string& sweep_id, const std::string& agent,
                           double lease_seconds) override {
    const json body = {{"agent", agent}, {"lease_seconds", lease_seconds}};
    LABBOOK_ASSIGN_OR_RETURN(json answer,
                             http_->CallJson("POST", SweepPath(sweep_id) + "/claims", &body));
    const std::string route = "POST /api/v1/sweeps/{id}/claims";
    LABBOOK_ASSIGN_OR_RETURN(json kind, Field(answer, "claim", route));
    Claim claim;
    claim.why = answer.value("why", "");
    if (kind == "trial") {
      claim.kind = Claim::Kind::kTrial;
      LABBOOK_ASSIGN_OR_RETURN(json trial, Field(answer, "trial", route));
      LABBOOK_ASSIGN_OR_RETURN(claim.trial, TrialFromJson(trial, "trial"));
    } else if (kind == "wait") {
      claim.kind = Claim::Kind::kWait;
    } else if (kind == "paused") {
      claim.kind = Claim::Kind::kPaused;
    } else if (kind == "done") {
      claim.kind = Claim::Kind::kDone;
    } else {
      return DataLoss("the answer to " + route + " has an unknown claim " + kind.dump());
    }
    return claim;
  }

  Status RenewLease(const std::string& sweep_id, int64_t number, const std::string& agent,
                    double lease_seconds) override {
    const json body = {{"agent", agent}, {"lease_seconds", lease_seconds}};
    return http_->CallJson("POST", TrialPath(sweep_id, number) + "/lease", &body).status();
  }

  Status AttachRun(const std::string& sweep_id, int64_t number, const std::string& agent,
                   const std::string& run_id) override {
    const json body = {{"agent", agent}, {"run", run_id}};
    return http_->CallJson("PATCH", TrialPath(sweep_id, number), &body).status();
  }

  Result<Progress> ReportProgress(const std::string& sweep_id, int64_t number,
                                  const std::string& agent, int64_t iteration,
                                  double value) override {
    const json body = {{"agent", agent},
                       {"iteration", iteration},
                       {"value", track::wire::NumberToJson(value)}};
    LABBOOK_ASSIGN_OR_RETURN(
        json answer, http_->CallJson("POST", TrialPath(sweep_id, number) + "/progress", &body));
    Progress progress;
    progress.stop = answer.value("stop", false);
    progress.reason = answer.value("reason", "");
    return progress;
  }

  Status CompleteTrial(const std::string& sweep_id, int64_t number, const std::string& agent,
                       TrialState state, std::optional<double> metric,
                       const std::string& reason) override {
    json body = {{"agent", agent}, {"state", std::string(TrialStateName(state))},
                 {"reason", reason}};
    body["metric"] = metric ? track::wire::NumberToJson(*metric) : json(nullptr);
    return http_->CallJson("PATCH", TrialPath(sweep_id, number), &body).status();
  }

  Result<std::vector<Trial>> ListTrials(const std::string& sweep_id) override {
    LABBOOK_ASSIGN_OR_RETURN(json answer,
                             http_->CallJson("GET", SweepPath(sweep_id) + "/trials", nullptr));
    LABBOOK_ASSIGN_OR_RETURN(json list, Field(answer, "trials", "GET /api/v1/sweeps/{id}/trials"));
    std::vector<Trial> out;
    for (size_t i = 0; i < list.size(); ++i) {
      LABBOOK_ASSIGN_OR_RETURN(Trial t, TrialFromJson(list[i], "trials[" + std::to_string(i) + "]"));
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  std::unique_ptr<HttpRunStore> http_;
};

}  // namespace

Result<std::unique_ptr<SweepStore>> OpenHttpSweepStore(const std::string& uri) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<HttpRunStore> http,
                           track::http::OpenHttpRunStore(uri));
  return std::unique_ptr<SweepStore>(new HttpSweepStore(std::move(http)));
}

}  // namespace labbook::sweep
