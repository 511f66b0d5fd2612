#include <filesystem>
#include <fstream>
#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/config/Yaml.hpp"
#include "tautrain/core/Allocator.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Version.hpp"
#include "tautrain/dist/RankInfo.hpp"

namespace tautrain::cli {

void ConfigOptions::addTo(CLI::App& command) {
  command.add_option("-c,--config", files, "YAML config files, applied left to right")->check(CLI::ExistingFile);
  command.add_option("--set", overrides, "override a key: --set data.batch_size=256 (repeatable)");
  command.add_flag("--dump-config", dump, "print the effective config and exit");
}

config::RunConfig ConfigOptions::load(const std::vector<std::string>& extra, const std::vector<std::string>& defaults) const {
  std::vector<std::string> all = overrides;
  all.insert(all.end(), extra.begin(), extra.end());
  return config::loadRunConfig(files, all, defaults);
}

void prepareOutputDirectory(const std::string& directory, const config::RunConfig& config, const std::string& name) {
  std::filesystem::create_directories(directory);
  std::ofstream(std::filesystem::path(directory) / (name + ".yaml")) << "# effective configuration written by "
                                                                      << versionString() << "\n"
                                                                      << config::dumpRunConfig(config);
  log::addFile((std::filesystem::path(directory) / "tautrain.log").string());
}

void addConfigCommand(CLI::App& app) {
  auto* command = app.add_subcommand("config", "Print the effective configuration (defaults, files, --set) as YAML");
  auto options = std::make_shared<ConfigOptions>();
  options->addTo(*command);
  command->callback([options] { std::cout << config::dumpRunConfig(options->load()); });
}

int run(int argc, char** argv) {
  configureAllocator();
  raiseOpenFileLimit();
  CLI::App app{"tautrain: train and evaluate the TauTransformer for hadronic tau identification"};
  app.require_subcommand(1);
  app.set_version_flag("--version", versionString());
  std::string level = "info";
  app.add_option("--log-level", level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.parse_complete_callback([&] {
    // The ranks of a data-parallel run tag their lines; ranks other than 0 say only what matters.
    const auto rank = dist::rankFromEnvironment();
    if (rank.distributed()) {
      log::setTag("rank " + std::to_string(rank.rank));
      if (rank.rank > 0 && app.count("--log-level") == 0) level = "warn";
    }
    log::setLevel(level);
  });

  addGenerateCommand(app);
  addDataCommands(app);
  addBenchCommand(app);
  addQuickstartCommand(app);
  addConfigCommand(app);
  addTrainCommands(app);
  addLaunchCommand(app);
  addCondorCommand(app);
  addEvalCommands(app);
#ifdef TAUTRAIN_HAVE_ONNX
  addExportCommand(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const ExitRequest& request) {
    return request.code;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ConfigError& e) {
    std::cerr << "tautrain: configuration error: " << e.what() << "\n";
    return 2;
  } catch (const DataError& e) {
    std::cerr << "tautrain: data error: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "tautrain: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace tautrain::cli
