#include "train/progress_bar.hpp"

#include <chrono>
#include <cmath>

namespace labbook::train {
namespace {

constexpr int kBarWidth = 30;
constexpr double kRedrawSeconds = 0.1;

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string Count(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Duration(double seconds) {
  if (seconds >= 3600) {
    return Format("%.0f", std::floor(seconds / 3600)) + "h" +
           Format("%02.0f", std::floor(std::fmod(seconds, 3600) / 60)) + "m";
  }
  if (seconds >= 60) {
    return Format("%.0f", std::floor(seconds / 60)) + "m" +
           Format("%02.0f", std::floor(std::fmod(seconds, 60))) + "s";
  }
  if (seconds >= 10) return Format("%.0f", seconds) + "s";
  return Format("%.1f", seconds) + "s";
}

std::string Rate(int64_t samples, double seconds) {
  if (seconds <= 0) return "";
  return " - " + Count(std::llround(static_cast<double>(samples) / seconds)) + " samples/s";
}

}  // namespace

double ProgressBar::SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressBar::ProgressBar(std::FILE* out, bool live, Clock clock)
    : out_(out), live_(live), clock_(std::move(clock)) {}

void ProgressBar::OnTrainBegin(const TrainInfo& info) { info_ = info; }

void ProgressBar::OnEpochBegin(int epoch) {
  epoch_start_ = clock_();
  last_draw_ = -1;
  train_seconds_ = 0;
  drawn_width_ = 0;
  if (live_) {
    std::fprintf(out_, "Epoch %d/%d\n", epoch + 1, info_.epochs);
    std::fflush(out_);
  }
}

std::string ProgressBar::Bar(int done) const {
  const int steps = info_.steps_per_epoch;
  const int width = static_cast<int>(std::to_string(steps).size());
  char counter[64];
  std::snprintf(counter, sizeof counter, "%*d/%d", width, done, steps);
  std::string bar = std::string(counter) + " [";
  const int filled = steps > 0 ? kBarWidth * done / steps : kBarWidth;
  for (int i = 0; i < kBarWidth; ++i) {
    bar.push_back(i < filled ? '=' : (i == filled ? '>' : '.'));
  }
  if (done == steps) bar.back() = '=';
  return bar + "]";
}

void ProgressBar::Draw(const std::string& line) {
  std::string padded = line;
  if (padded.size() < drawn_width_) padded.append(drawn_width_ - padded.size(), ' ');
  drawn_width_ = line.size();
  std::fprintf(out_, "\r%s", padded.c_str());
  std::fflush(out_);
}

void ProgressBar::OnBatchEnd(int batch, const BatchLogs& logs) {
  const double now = clock_();
  train_seconds_ = now - epoch_start_;
  if (!live_) return;
  const bool last = batch + 1 == info_.steps_per_epoch;
  if (!last && last_draw_ >= 0 && now - last_draw_ < kRedrawSeconds) return;
  last_draw_ = now;
  const double per_step = train_seconds_ / (batch + 1);
  const double eta = per_step * (info_.steps_per_epoch - batch - 1);
  Draw(Bar(batch + 1) + " - ETA: " + Duration(eta) + Rate(logs.samples_seen, train_seconds_) +
       " - loss: " + Format("%.4f", logs.loss) + " - accuracy: " + Format("%.4f", logs.accuracy));
}

void ProgressBar::OnEpochEnd(int epoch, const EpochLogs& logs) {
  std::string line = " - " + Duration(clock_() - epoch_start_) +
                     Rate(logs.samples, train_seconds_) + " - loss: " + Format("%.4f", logs.loss) +
                     " - accuracy: " + Format("%.4f", logs.accuracy);
  if (!std::isnan(logs.val_loss)) {
    line += " - val_loss: " + Format("%.4f", logs.val_loss) +
            " - val_accuracy: " + Format("%.4f", logs.val_accuracy);
  }
  if (live_) {
    Draw(Bar(info_.steps_per_epoch) + line);
    std::fprintf(out_, "\n");
  } else {
    std::fprintf(out_, "Epoch %d/%d%s\n", epoch + 1, info_.epochs, line.c_str());
  }
  std::fflush(out_);
}

}  // namespace labbook::train
