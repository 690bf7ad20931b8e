def execute_command_orange_inside_circle(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match):
    # Answer is: yes or no
    # Question: Is there an orange object inside a circle?
    image_patch = ImagePatch(image)
    for circle_patch in image_patch.find("circle"):
        if circle_patch.width < 26:
            # too small to hold anything
            continue
        # look for orange things inside this circle's crop
        for inner_patch in circle_patch.find("orange object"):
            # the circle itself may be found in its own crop: skip boxes as big as it
            if inner_patch.width < circle_patch.width * 0.7:
                if inner_patch.verify_property("object", "orange"):
                    return "yes"
    return "no"
